"""fairshare_trainer: the distributed PyTorch trainer that runs in the pods the fairshare operator launches."""

__version__ = "0.1.0"

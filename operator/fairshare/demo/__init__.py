"""The embedded default of `fairshare up`: sample GPU classes, tenants and job waves that show the policy at work."""

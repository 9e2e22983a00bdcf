// Command table_convert measures what the API server's Table conversion of a TrainingJob LIST costs under the printer
// columns of each CRD given: the apiextensions-apiserver's own convertor (the code kube-apiserver runs for
// `kubectl get` and `fairshare queue`), fed the same objects, alternating between the CRDs, in CPU seconds (the
// garbage the conversion leaves collected and counted, as the API server pays for it). Run with GOMAXPROCS=1:
//
//	kubectl get tj -A -o json > /tmp/tjs.json
//	GOMAXPROCS=1 go run . /tmp/tjs.json A.yaml B.yaml
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"syscall"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func columns(path string) []apiextensionsv1.CustomResourceColumnDefinition {
	b, _ := os.ReadFile(path)
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		panic(err)
	}
	return crd.Spec.Versions[0].AdditionalPrinterColumns
}

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	data, _ := os.ReadFile(os.Args[1])
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(data); err != nil {
		panic(err)
	}
	names := os.Args[2:]
	res := map[string][]float64{}
	fmt.Printf("%d objects\n", len(list.Items))
	for round := 0; round < 15; round++ {
		for _, name := range names {
			conv, err := tableconvertor.New(columns(name))
			if err != nil {
				panic(err)
			}
			runtime.GC()
			before := cpu()
			if _, err := conv.ConvertToTable(context.Background(), &list, nil); err != nil {
				panic(err)
			}
			runtime.GC() // the garbage the conversion left counts as its cost, as in the API server
			res[name] = append(res[name], cpu()-before)
		}
	}
	for _, name := range names {
		v := res[name]
		sort.Float64s(v)
		fmt.Printf("%-50s %d columns  median %.3f s  min %.3f s  max %.3f s\n", name, len(columns(name)), v[len(v)/2], v[0], v[len(v)-1])
	}
}

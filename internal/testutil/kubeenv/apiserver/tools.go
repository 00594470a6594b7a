//go:build tools

// Package tools pins the kube-apiserver the cluster tests build: the
// k8s.io/kubernetes module at the version in go.mod, with its staging
// modules at the matching k8s.io/* versions (the replace block). The
// kubeenv package builds k8s.io/kubernetes/cmd/kube-apiserver from here
// with `go build` and caches the binary.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"

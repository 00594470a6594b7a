// Package kubeenv starts a real Kubernetes control plane for tests: Debian's
// etcd and a kube-apiserver built from the k8s.io/kubernetes module source,
// driven by controller-runtime's envtest.
//
// The kube-apiserver is built with `go build` from the pinned module in
// ./apiserver the first time a test needs it and cached under the user's
// cache directory (or $AGENTGATE_TEST_CACHE), keyed by that module's go.sum
// and the Go version, so later runs start it in seconds. etcd comes from
// $PATH (Debian: apt-get install etcd-server). A missing etcd or a failed
// build skips the test, or fails it when CI=true.
package kubeenv

// Package replay keeps the policy input of every decision and tries a
// candidate policy on them. The gate encodes each decision's input, the
// policy revision and the decision's summary into a compressed record
// stored beside its audit record; `admission policy replay` streams the
// records of a window from the server, evaluates them with the candidate
// set on the operator's machine and reports what would change.
package replay

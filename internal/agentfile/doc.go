// Package agentfile reads and writes agents declared as code: YAML files of
// one or many documents of kind Agent, with the fields of the agents API,
// as `admission apply`, `admission diff` and `admission agents get -o yaml`
// use them.
//
//	apiVersion: agentgate.io/v1
//	kind: Agent
//	name: pay-coder
//	type: coding
//	owner: payments@example.com
//	capabilities: [build]
//	environments: [staging]
//	principals: ["github:pay-coder[bot]"]
//	labels: {team: payments}
package agentfile

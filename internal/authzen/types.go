package authzen

// Entity is a subject or a resource: a type and an id, with properties.
type Entity struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Action is what the subject wants to do.
type Action struct {
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Evaluation is one access evaluation request (the 4-tuple).
type Evaluation struct {
	Subject  *Entity        `json:"subject,omitempty"`
	Action   *Action        `json:"action,omitempty"`
	Resource *Entity        `json:"resource,omitempty"`
	Context  map[string]any `json:"context,omitempty"`
}

// Batch is an access evaluations request: defaults, the evaluations and
// options.
type Batch struct {
	Evaluation
	Evaluations []Evaluation `json:"evaluations,omitempty"`
	Options     struct {
		EvaluationsSemantic string `json:"evaluations_semantic,omitempty"`
	} `json:"options"`
}

// Decision is one access evaluation response.
type Decision struct {
	Decision bool           `json:"decision"`
	Context  map[string]any `json:"context,omitempty"`
}

// Decisions is the access evaluations response.
type Decisions struct {
	Evaluations []Decision `json:"evaluations"`
}

// Evaluations semantics.
const (
	ExecuteAll          = "execute_all"
	DenyOnFirstDeny     = "deny_on_first_deny"
	PermitOnFirstPermit = "permit_on_first_permit"
)

// Metadata is the PDP metadata document (/.well-known/authzen-configuration).
type Metadata struct {
	Issuer                    string `json:"issuer"`
	AccessEvaluationEndpoint  string `json:"access_evaluation_endpoint"`
	AccessEvaluationsEndpoint string `json:"access_evaluations_endpoint"`
}

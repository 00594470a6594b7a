package main

import "testing"

const watchA = `{"id":"w-1","provider":"github","repo":"acme/api","environment":"production","deployment_id":"d-2",
"sha":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","agent_id":"a-1","agent":"ship-bot",
"query":"sum(rate(http_requests_total{namespace=\"production\",code=~\"5..\"}[5m]))","baseline":0.01,"state":"watching",
"breaches":1,"trip_after":3,"interval":"30s","started_at":"2025-01-02T03:04:05Z","ends_at":"2025-01-02T03:19:05Z",
"next_check":"2025-01-02T03:05:05Z","last_reading":{"at":"2025-01-02T03:04:35Z","value":0.08,"has_data":true}}`

const watchEnded = `{"id":"w-0","provider":"gitlab","repo":"shop/web","environment":"staging","deployment_id":"d-1",
"sha":"abc","agent_id":"a-9","query":"q","baseline":0,"state":"passed","breaches":0,"trip_after":3,"interval":"1s",
"started_at":"2025-01-01T00:00:00Z","ends_at":"2025-01-01T00:15:00Z","last_reading":{"at":"2025-01-01T00:15:00Z","value":0,"has_data":false}}`

const rollbackDone = `{"id":"rb-1","key":"k","target":{"provider":"github","repo":"acme/api","environment":"production","action":"rollback","source":"watch"},
"from_sha":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","to":{"id":"d-1","provider":"github","repo":"acme/api","environment":"production",
"sha":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","at":"2025-01-02T02:00:00Z"},"state":"succeeded","result":{},
"reason":"5xx above 0.05 for 3 readings","created_at":"2025-01-02T03:10:00Z","updated_at":"2025-01-02T03:10:05Z"}`

const rollbackAsked = `{"id":"rb-2","key":"k2","target":{"provider":"argo","app":"shop","environment":"production","action":"rollback","source":"request"},
"requested_by":"sre-olga","to":{"id":"d-7","sha":"c0ffee"},"state":"running","result":{},"reason":"bad config",
"created_at":"2025-01-02T04:00:00Z","updated_at":"2025-01-02T04:00:00Z"}`

func TestRollbackCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name:      "rollbacks, newest first; a watch's shows its source, a person's their name",
			args:      []string{"rollback", "list", "--limit", "2"},
			routes:    map[string]fakeReply{"GET /api/v1/rollbacks": {body: `{"items":[` + rollbackAsked + `,` + rollbackDone + `]}`}},
			wantCalls: []call{{line: "GET /api/v1/rollbacks?limit=2"}},
			wantContains: []string{
				"ID    CREATED               PROVIDER  TARGET    ENVIRONMENT  FROM          TO            STATE      BY        REASON",
				"rb-2  2025-01-02T04:00:00Z  argo      shop      production   -             c0ffee        running    sre-olga  bad config",
				"rb-1  2025-01-02T03:10:00Z  github    acme/api  production   bbbbbbbbbbbb  aaaaaaaaaaaa  succeeded  watch     5xx above 0.05 for 3 readings",
			},
		},
		{
			name:      "rollbacks as JSON",
			args:      []string{"rollback", "list", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/rollbacks": {body: `{"items":[]}`}},
			wantCalls: []call{{line: "GET /api/v1/rollbacks"}},
			wantJSON:  `{"items":[]}`,
		},
		{
			name:      "live watches",
			args:      []string{"rollback", "watches"},
			routes:    map[string]fakeReply{"GET /api/v1/rollback/watches": {body: `{"items":[` + watchA + `]}`}},
			wantCalls: []call{{line: "GET /api/v1/rollback/watches"}},
			wantContains: []string{
				"REPO      ENVIRONMENT  SHA           AGENT     STATE     BREACHES  LAST  EVERY  NEXT CHECK",
				"acme/api  production   bbbbbbbbbbbb  ship-bot  watching  1/3       0.08  30s    2025-01-02T03:05:05Z",
				`namespace="production"`,
			},
		},
		{
			name:         "every watch, limited; an unnamed agent shows its id",
			args:         []string{"rollback", "watches", "--all", "--limit", "5"},
			routes:       map[string]fakeReply{"GET /api/v1/rollback/watches": {body: `{"items":[` + watchEnded + `]}`}},
			wantCalls:    []call{{line: "GET /api/v1/rollback/watches?all=true&limit=5"}},
			wantContains: []string{"shop/web  staging      abc  a-9    passed  0/3       no data  1s     -"},
		},
		{
			name:      "as JSON",
			args:      []string{"rollback", "watches", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/rollback/watches": {body: `{"items":[]}`}},
			wantCalls: []call{{line: "GET /api/v1/rollback/watches"}},
			wantJSON:  `{"items":[]}`,
		},
		{
			name:      "rollback off at the server",
			args:      []string{"rollback", "watches"},
			routes:    map[string]fakeReply{"GET /api/v1/rollback/watches": {status: 503, body: `{"error":{"code":"unavailable","message":"rollback is not configured (rollback.prometheus_url)"}}`}},
			wantCalls: []call{{line: "GET /api/v1/rollback/watches"}},
			wantErr:   "rollback is not configured",
		},
	})
}

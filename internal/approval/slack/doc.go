// Package slack is the Slack front end for human approvals.
//
// A Notifier posts every approval the gate creates (gate.ApprovalNotifier)
// to the Slack channel of its environment as a Block Kit message with the
// agent, the change, the prompt and reasoning that led to it, the policy's
// reason and the deadline, and Approve and Reject buttons carrying the
// approval id. It remembers each message through MessageRefs and rewrites
// it, without buttons, once the approval is resolved: in Slack, or
// elsewhere when the application calls ApprovalResolved.
//
// The Notifier is also the http.Handler of Slack's interactivity endpoint
// (POST /slack/interactions). Requests are authenticated by Slack's
// signature (HMAC-SHA256 with the app's signing secret, timestamps within
// five minutes); without a signing secret every request is refused. Slack
// wants an answer within three seconds, so clicks are acknowledged at once
// and handled in the background, each with its own timeout: Approve
// resolves the approval; Reject opens a modal asking for the reason, and
// the modal's submission resolves it. What the clicker must know (they are
// not an approver, someone else was faster, they prompted the change) is
// shown to them alone as an ephemeral message.
//
// Who may resolve is the approval service's decision, reached through the
// Resolver interface with a Clicker: the Slack user id is the approver's
// name (an approvers entry "U0123ABC" admits that user), and the approvers
// entries naming Slack user groups ("@sre-oncall", "subteam:S0123ABC") the
// user belongs to are listed in Clicker.Groups, resolved here through
// usergroups.users.list and cached for a minute. "role:…" entries are API
// roles and admit no Slack user.
package slack

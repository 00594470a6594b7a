// Package config loads agentgate's configuration once at start: one YAML
// file, then ADMISSION_* environment overrides, then defaults, then
// validation whose errors name the offending key. The result is treated as
// immutable. Secrets are held in Secret, which redacts itself in logs, JSON
// and fmt output, and may be read from a file or the environment.
package config

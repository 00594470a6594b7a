// Package secret holds configuration secrets in a type that redacts itself
// when printed, logged, or marshalled to JSON or YAML, and can be read from
// a file ({file: /path}) or an environment variable ({env: NAME}). It sits
// below the configuration so that the provider packages, which own their
// configuration sections, can use it.
package secret

package github

import (
	"math"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/event"
)

// defaultRate is the RunnerRates key used when no runner label has a rate.
const defaultRate = "default"

// currencyUSD is the currency of runner rates.
const currencyUSD = "USD"

// jobCost is what a completed job cost: GitHub bills each job by the minute,
// rounding its duration (started_at to completed_at) up to the next whole
// minute, so minutes = ceil(seconds / 60). The amount is minutes times the
// rate of the first of the job's runner labels that has one, else the
// "default" rate, else zero. A job that never ran (no start or end time, or
// no time between them) has no cost.
func jobCost(job *gh.WorkflowJob, rates map[string]float64) *event.Cost {
	start, end := job.GetStartedAt().Time, job.GetCompletedAt().Time
	if start.IsZero() || end.IsZero() || !end.After(start) {
		return nil
	}
	minutes := math.Ceil(end.Sub(start).Seconds() / 60)
	rate := runnerRate(job.Labels, rates)
	return &event.Cost{
		Minutes:  minutes,
		Amount:   math.Round(minutes*rate*1e6) / 1e6,
		Currency: currencyUSD,
	}
}

// runnerRate is the rate of the first label that has one, else the default.
func runnerRate(labels []string, rates map[string]float64) float64 {
	for _, l := range labels {
		if r, ok := rates[strings.ToLower(strings.TrimSpace(l))]; ok {
			return r
		}
	}
	return rates[defaultRate]
}

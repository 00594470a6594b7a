package gitlab

import (
	"math"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
)

// defaultRate is the RunnerRates key used when no runner tag has a rate.
const defaultRate = "default"

// currencyUSD is the currency of runner rates.
const currencyUSD = "USD"

// jobCost is what a finished job cost: its build_duration (seconds the job
// ran) rounded up to whole minutes, times the rate of the first of its
// runner's tags (then the job's own tags) that has one, else the "default"
// rate, else zero. A job without a positive duration has no cost.
func jobCost(duration *float64, tags []string, rates map[string]float64) *event.Cost {
	if duration == nil || !(*duration > 0) || math.IsInf(*duration, 1) {
		return nil
	}
	minutes := math.Ceil(*duration / 60)
	rate := runnerRate(tags, rates)
	return &event.Cost{
		Minutes:  minutes,
		Amount:   math.Round(minutes*rate*1e6) / 1e6,
		Currency: currencyUSD,
	}
}

// runnerRate is the rate of the first tag that has one, else the default.
func runnerRate(tags []string, rates map[string]float64) float64 {
	for _, t := range tags {
		if r, ok := rates[strings.ToLower(strings.TrimSpace(t))]; ok {
			return r
		}
	}
	return rates[defaultRate]
}

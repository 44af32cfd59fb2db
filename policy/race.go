//go:build race

package policy

// raceSlowdown stretches the time bounds of Rego evaluation under the race
// detector, which runs OPA's evaluator 5 to 10 times slower.
const raceSlowdown = 10

//go:build !race

package policy

// raceSlowdown stretches the time bounds of Rego evaluation under the race
// detector (see race.go); without it they are as written.
const raceSlowdown = 1

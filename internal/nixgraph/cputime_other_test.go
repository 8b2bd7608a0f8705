//go:build !unix

package nixgraph

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }

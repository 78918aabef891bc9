package kit

import "time"

// Allocate takes mib MiB and touches every page, so the memory is really used (a limit below it
// makes the kernel's OOM killer end the process), then holds it.
func Allocate(program string, mib int) {
	const chunk = 16 << 20
	var held [][]byte
	for taken := 0; taken < mib<<20; taken += chunk {
		block := make([]byte, chunk)
		for i := 0; i < len(block); i += 4096 {
			block[i] = 1
		}
		held = append(held, block)
		Logf(program, "allocated %d MiB", (taken+chunk)>>20)
	}
	Logf(program, "holding %d MiB", len(held)*chunk>>20)
	time.Sleep(time.Hour)
}

package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sysinit/sysinit/internal/step"
)

// What the scripts of the steps' command lines run (step.Analyses) is kept
// in a file of its own beside the state store, not in it: the steps read
// it while the store is still opening (see plan.Planner.Prefetch), and a
// refresh that changed none of it writes nothing. Like the stat cache it
// only saves work — each entry is checked against the files before use —
// so a file that is missing, unreadable or damaged is ignored, and only a
// refresh writes it (plan and why never write).

// maxAnalysesFile bounds what is read of it: a larger one is not ours.
const maxAnalysesFile = 16 << 20

// analysesPath is the file beside the store at storePath.
func analysesPath(storePath string) string {
	return strings.TrimSuffix(storePath, ".db") + ".scripts"
}

// loadAnalyses reads the file at path; anything wrong with it gives an
// empty cache.
func loadAnalyses(path string) *step.Analyses {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return step.LoadAnalyses(nil)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAnalysesFile+1))
	if err != nil || len(data) > maxAnalysesFile {
		return step.LoadAnalyses(nil)
	}
	return step.LoadAnalyses(data)
}

// saveAnalyses writes the session's analyses back when an analysis was
// made since they were loaded: to a new file, renamed over the old, so
// that a reader sees one or the other whole. It is not synced: a file
// lost or torn by a crash fails its checksum and costs a parse.
func saveAnalyses(s *session) error {
	c := s.planner.Analyses
	if !c.Changed() || s.analysesPath == "" {
		return nil
	}
	// A new name (O_EXCL, mode 0600): never a file or link already there.
	f, err := os.CreateTemp(filepath.Dir(s.analysesPath), filepath.Base(s.analysesPath)+".new-*")
	if err != nil {
		return fmt.Errorf("writing script analyses: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(c.Marshal())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.analysesPath)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing script analyses %s: %w", s.analysesPath, err)
	}
	return nil
}

package cli_test

import (
	"path/filepath"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/state"
)

// cmdAgeRecords ages every record of the config in the current directory
// by SECONDS, as that much time passing does: `agerecords 1200`. It lets a
// script reach a time-to-live without waiting for it.
func cmdAgeRecords(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: agerecords SECONDS")
	}
	secs, err := strconv.Atoi(args[0])
	ts.Check(err)
	id, err := state.IdentifyConfig(config.StateDirOf(filepath.Join(ts.MkAbs("."), config.FileName)))
	ts.Check(err)
	path, err := state.Path(ts.Getenv, id)
	ts.Check(err)
	owner := state.LocalOwner(ts.Getenv, id)
	st, err := state.Open(path, state.Options{Owner: &owner})
	ts.Check(err)
	defer st.Close()
	recs, err := st.Records()
	ts.Check(err)
	for _, rec := range recs {
		m, err := st.Manifest(rec.Step)
		ts.Check(err)
		rec.Started = rec.Started.Add(-time.Duration(secs) * time.Second)
		if !rec.Due.IsZero() {
			rec.Due = rec.Due.Add(-time.Duration(secs) * time.Second)
		}
		ts.Check(st.Put(rec, m))
	}
}

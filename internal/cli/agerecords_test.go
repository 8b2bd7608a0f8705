package cli_test

import (
	"os"
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
	key := config.StateKeyOf(filepath.Join(ts.MkAbs("."), config.FileName))
	path, err := state.Path(ts.Getenv, key)
	ts.Check(err)
	st, err := state.Open(path, state.Options{Owner: &state.Owner{Machine: state.LocalMachineID(), UID: os.Geteuid(), Config: key}})
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

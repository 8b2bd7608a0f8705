package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sysinit/sysinit/internal/command"
)

// The rows of a measurement of the user's own config.
const (
	OwnSysinit = "sysinit refresh"
	OwnFloor   = "floor"
	OwnStart   = "sysinit version"
	OwnAgainst = "old command"
)

// OwnOptions configure Own: a no-change refresh of the user's own config,
// on the real tools, against the stat floor of its input files and the
// command it replaces.
type OwnOptions struct {
	Self    string // the sysinit binary
	Version string // sysinit's version, for the report
	Command string // the command line, for the report
	Config  string // the config file, absolute: each refresh gets --config
	Dir     string // the config's directory, where every command runs
	Steps   int    // how many steps the config has, for the report
	// Files are the config's input files, absolute: what the floor stats.
	// None leaves the floor out.
	Files []string
	// Against is the old command, run with sh -c after sysinit's runs;
	// "" leaves it out.
	Against string
	Runs    int           // timed runs of each command, after Warmup runs
	Warmup  int           // untimed runs before them
	Timeout time.Duration // how long one run may take; 0 = no limit
	// Exec runs every command; nil is command.Exec{}: each in a process
	// group of its own, which a timeout or an interrupt takes down whole.
	Exec     command.Runner
	Progress func(string)
}

// OwnReport is what Own measured. Durations are milliseconds, as in every
// --json output of sysinit (docs/json.md).
type OwnReport struct {
	Version string    `json:"version"`
	Date    time.Time `json:"date"`
	Command string    `json:"command"`
	Config  string    `json:"config"`
	Steps   int       `json:"steps"`
	Files   int       `json:"files"` // the input files the floor stats
	Runs    int       `json:"runs"`
	Warmup  int       `json:"warmup"`
	Machine Machine   `json:"machine"`
	// Results: sysinit refresh first, then the floor, sysinit version and
	// the old command, those that were measured.
	Results []OwnResult `json:"results"`
	Notes   []string    `json:"notes,omitempty"`
}

// OwnResult is one command's timings.
type OwnResult struct {
	Name     string  `json:"name"`    // one of the Own* row names
	Command  string  `json:"command"` // what ran, as a shell reads it
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	// Ratio is this median over sysinit refresh's: above 1, sysinit is
	// faster.
	Ratio float64 `json:"ratio"`
	Note  string  `json:"note,omitempty"`

	stats Stats
}

func (o *OwnOptions) progress(format string, a ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, a...))
	}
}

func (o *OwnOptions) check() error {
	switch {
	case o.Self == "":
		return errors.New("no sysinit binary to measure")
	case o.Config == "" || o.Dir == "":
		return errors.New("no config to measure")
	case o.Runs < 1:
		return fmt.Errorf("runs = %d: need at least 1", o.Runs)
	case o.Warmup < 0:
		return fmt.Errorf("warmup = %d: cannot be negative", o.Warmup)
	case o.Timeout < 0:
		return fmt.Errorf("timeout = %s: cannot be negative", o.Timeout)
	}
	return nil
}

// RefreshArgv is how Own starts each refresh: the config named, JSON
// events to check that nothing ran, and no waiting for another sysinit's
// lock (that wait would be timed).
func (o *OwnOptions) RefreshArgv() []string {
	return []string{o.Self, "--config", o.Config, "refresh", "--json", "--no-wait"}
}

// ownCmd is one command Own times.
type ownCmd struct {
	name    string
	argv    []string
	display string // the command as the report shows it
	note    string
}

// label names c in progress lines and errors.
func (c ownCmd) label() string {
	if c.name == OwnAgainst {
		return c.name + " " + command.Quote(c.display)
	}
	return c.name
}

// Own measures a no-change refresh of the config: Warmup+Runs refreshes,
// each a whole process, interleaved with the floor and `sysinit version`
// in a rotating order; then the old command as many times. Every refresh
// must start no step (its JSON events are read): one that does stops the
// measurement, since its time would not be a no-change refresh's. The
// caller has checked that nothing would run.
func Own(ctx context.Context, o OwnOptions) (*OwnReport, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	x := o.Exec
	if x == nil {
		x = command.Exec{}
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("finding sh: %w", err)
	}
	r := &OwnReport{
		Version: o.Version, Date: time.Now(), Command: o.Command, Config: o.Config,
		Steps: o.Steps, Files: len(o.Files), Runs: o.Runs, Warmup: o.Warmup,
	}
	r.Machine = describeMachine(ctx, "")
	r.Machine.LoadBefore = loadAverage()

	refresh := ownCmd{name: OwnSysinit, argv: o.RefreshArgv(),
		note: "started no step in any run (each run's --json events checked)"}
	refresh.display = command.Join(append([]string{"sysinit"}, refresh.argv[1:]...))
	cmds := []ownCmd{refresh}
	floor, list, why, err := o.floor()
	switch {
	case err != nil:
		return nil, err
	case floor == "":
		r.Notes = append(r.Notes, "no floor: "+why)
	default:
		defer os.Remove(list)
		cmds = append(cmds, ownCmd{name: OwnFloor, argv: []string{sh, "-c", floor},
			display: strings.Replace(floor, shQuote(list), "FILES", 1),
			note:    fmt.Sprintf("stats the %s (FILES lists them), decides nothing", plural(len(o.Files), "input file"))})
	}
	cmds = append(cmds, ownCmd{name: OwnStart, argv: []string{o.Self, "version"}, display: "sysinit version",
		note: "starts the binary and exits: what any sysinit run costs"})

	walls := map[string][]time.Duration{}
	total := o.Warmup + o.Runs
	for i := 0; i < total; i++ {
		o.progress("%s: run %d/%d%s", joinNames(cmds), i+1, total, warmNote(i, o.Warmup))
		for _, j := range rotate(indexes(len(cmds)), i) {
			c := cmds[j]
			wall, err := o.timeRun(ctx, x, c, i+1)
			if err != nil {
				return nil, err
			}
			if i >= o.Warmup {
				walls[c.name] = append(walls[c.name], wall)
			}
		}
	}
	if o.Against != "" {
		// After sysinit's runs, not between them: the old command may change
		// the inputs (a flake update), and the refreshes after it would no
		// longer be no-change ones.
		c := ownCmd{name: OwnAgainst, argv: []string{sh, "-c", o.Against}, display: o.Against,
			note: "run with sh -c in " + o.Dir}
		cmds = append(cmds, c)
		for i := 0; i < total; i++ {
			o.progress("%s: run %d/%d%s", c.label(), i+1, total, warmNote(i, o.Warmup))
			wall, err := o.timeRun(ctx, x, c, i+1)
			if err != nil {
				return nil, err
			}
			if i >= o.Warmup {
				walls[c.name] = append(walls[c.name], wall)
			}
		}
	}
	r.Machine.LoadAfter = loadAverage()
	for _, c := range cmds {
		s := NewStats(walls[c.name])
		r.Results = append(r.Results, OwnResult{Name: c.name, Command: c.display, Runs: s.N,
			MedianMS: millis(s.Median), MinMS: millis(s.Min), MaxMS: millis(s.Max), Note: c.note, stats: s})
	}
	for i := range r.Results {
		r.Results[i].Ratio = Ratio(r.Results[i].stats, r.Results[0].stats)
	}
	return r, nil
}

// timeRun runs c once and returns its wall time. A refresh's events must
// show that it started no step.
func (o *OwnOptions) timeRun(ctx context.Context, x command.Runner, c ownCmd, n int) (time.Duration, error) {
	runCtx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var stdout bytes.Buffer
	tail := &command.Tail{Max: command.TailLines}
	cmd := &command.Cmd{Argv: c.argv, Dir: o.Dir, Stdout: tail, Stderr: tail}
	if c.name == OwnSysinit {
		cmd.Stdout = &stdout
	}
	start := time.Now()
	err := x.Run(runCtx, cmd)
	wall := time.Since(start)
	if ctx.Err() != nil {
		return 0, fmt.Errorf("%s, run %d: %w", c.label(), n, ctx.Err())
	}
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		return 0, fmt.Errorf("%s, run %d: %w", c.label(), n, &TimeoutError{o.Timeout})
	}
	if c.name == OwnSysinit {
		if ev, perr := parseEvents(stdout.Bytes()); perr == nil {
			if nerr := ev.noChange(); nerr != nil {
				return 0, fmt.Errorf("%s, run %d: %w", c.label(), n, nerr)
			}
		} else if err == nil {
			return 0, fmt.Errorf("%s, run %d: %w", c.label(), n, perr)
		}
	}
	if err != nil {
		msg := fmt.Sprintf("%s, run %d: %v", c.label(), n, err)
		if lines := tail.Lines(); len(lines) > 0 {
			msg += "\n" + strings.Join(lines, "\n")
		}
		return 0, errors.New(msg)
	}
	return wall, nil
}

// TimeoutError is a run stopped at OwnOptions.Timeout.
type TimeoutError struct{ Limit time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("still running after %s: stopped", e.Limit)
}

// noChange says which steps a refresh started or meant to, if any.
func (r *runEvents) noChange() error {
	var bad []string
	for _, s := range r.started {
		bad = append(bad, s.name+" ("+s.why+")")
	}
	if len(bad) > 0 {
		return fmt.Errorf("it started %s: not a no-change refresh, so bench stops; something changed while it ran, or a step's check answers differently each time (sysinit plan shows why a step runs)", strings.Join(bad, ", "))
	}
	if r.ran+r.failed+r.blocked > 0 {
		return fmt.Errorf("it reports %d steps run, %d failed, %d blocked: not a no-change refresh", r.ran, r.failed, r.blocked)
	}
	return nil
}

// floor is the floor's command and the list of files it reads; without
// one, why not.
func (o *OwnOptions) floor() (cmd, list, why string, err error) {
	if len(o.Files) == 0 {
		return "", "", "the config's steps have no input files", nil
	}
	if list, err = writeFileList(o.Files); err != nil {
		return "", "", "", err
	}
	if cmd = floorFilesCommand(list); cmd == "" {
		os.Remove(list)
		return "", "", "neither find nor stat here can stat a list of files", nil
	}
	return cmd, list, "", nil
}

// writeFileList writes files NUL-separated to a temporary file, for the
// floor to read.
func writeFileList(files []string) (string, error) {
	f, err := os.CreateTemp("", "sysinit-bench-files-")
	if err != nil {
		return "", fmt.Errorf("writing the list of input files: %w", err)
	}
	_, werr := io.WriteString(f, strings.Join(files, "\x00")+"\x00")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the list of input files: %w", werr)
	}
	return f.Name(), nil
}

// floorFilesCommand stats every file that list names (NUL-separated) and
// hashes the listing: FloorCommand for a list of files rather than a tree.
// GNU find reads the list itself; elsewhere xargs hands it to stat (BSD's
// on macOS).
func floorFilesCommand(list string) string {
	for _, v := range floorVariants(list) {
		if v.works() {
			return v.cmd
		}
	}
	return ""
}

// floorVariant is one way to stat a list of files, and how to tell that
// this machine's tools can.
type floorVariant struct {
	cmd   string
	works func() bool
}

func floorVariants(list string) []floorVariant {
	q := shQuote(list)
	sum := "sha256sum"
	if _, err := exec.LookPath("sha256sum"); err != nil {
		sum = "shasum -a 256"
	}
	return []floorVariant{
		{"find -files0-from " + q + ` -maxdepth 0 -printf '%T@ %s %p\n' | ` + sum,
			func() bool {
				return exec.Command("find", "-files0-from", "/dev/null", "-maxdepth", "0", "-printf", "").Run() == nil
			}},
		{"xargs -0 stat -c '%.9Y %s %n' < " + q + " | " + sum,
			func() bool { return exec.Command("stat", "-c", "%.9Y", "/dev/null").Run() == nil }},
		// BSD's stat has no -c (GNU's -f is another thing).
		{"xargs -0 stat -f '%Fm %z %N' < " + q + " | " + sum,
			func() bool { return exec.Command("stat", "-c", "%s", "/dev/null").Run() != nil }},
	}
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func joinNames(cmds []ownCmd) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// plural is n things, with thousands separated: "1 step", "2,000 input files".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return thousands(n) + " " + thing + "s"
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// WriteJSON writes the report as indented JSON.
func (r *OwnReport) WriteJSON(w io.Writer) error {
	return writeJSON(w, r)
}

// WriteText writes the table for a terminal.
func (r *OwnReport) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "a no-change refresh of %s (%s, %s)\n", r.Config, plural(r.Steps, "step"), plural(r.Files, "input file"))
	warm := "no warm-up"
	if r.Warmup > 0 {
		warm = plural(r.Warmup, "warm-up")
	}
	fmt.Fprintf(ew, "%s after %s, each a whole process; %d CPUs, %s", plural(r.Runs, "run"), warm, r.Machine.CPUs, r.Machine.CPU)
	if r.Machine.Build != "" {
		fmt.Fprintf(ew, "; built with %s", r.Machine.Build)
	}
	fmt.Fprintf(ew, "; load %s before, %s after\n\n", r.Machine.LoadBefore, r.Machine.LoadAfter)
	width := len("what")
	for _, res := range r.Results {
		width = max(width, len(res.Name))
	}
	row := func(cells ...string) {
		fmt.Fprintf(ew, "%-*s  %8s  %8s  %8s  %9s\n", width, cells[0], cells[1], cells[2], cells[3], cells[4])
	}
	row("what", "median", "min", "max", "× sysinit")
	for i, res := range r.Results {
		row(res.Name, FormatDuration(res.stats.Median), FormatDuration(res.stats.Min), FormatDuration(res.stats.Max), ratioCell(i, res.Ratio))
	}
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 1, ' ', 0)
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s:\t%s\n", res.Name, res.Command)
		if res.Note != "" {
			fmt.Fprintf(tw, "\t%s\n", res.Note)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(ew, "note: %s\n", n)
	}
	return ew.err
}

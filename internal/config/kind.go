package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Kind declares a step kind to the loader: its name, what it does, the keys
// it takes beyond the shared ones and which shared keys it honours. A kind
// lives with its code (packages step, nix and brew); the loader knows it
// only through this declaration, so adding a kind touches one package.
//
// A kind's own keys are the exported fields of the struct Keys points to,
// each tagged with its key and how it is written:
//
//	key       the key's name in sysinit.toml (required)
//	doc       one line: what it means (required)
//	example   a valid line, shown in docs and hints (required)
//	items     arrays: what the elements are ("glob patterns")
//	required  "true": the step must set it
//	default   the value when left out (strings only)
//	unless    the name of another key: default applies only while that
//	          one is left out (a Brewfile, unless it comes from nix-darwin)
//	enum      the allowed values, comma-separated
//	path      "file" or "dir": a path that must exist (relative to the
//	          config directory; a relative one may not leave it); "dest":
//	          where something is installed (~/ and relative are resolved)
//	empty     arrays: "ok" when empty elements mean something
//	zero      durations: the hint for a value that is not positive
//
// Field types: string, bool, *int (a whole number ≥ 1), time.Duration,
// []string and map[string]string.
type Kind struct {
	Name    string
	Summary string // one line, for listings
	// Doc is what docs/config.md and `sysinit help config KIND` say of the
	// kind besides its keys: paragraphs of Markdown.
	Doc string
	// Keys points to a zero value of the struct the kind's keys decode
	// into; each loaded step gets its own, in Step.Own. Nil: no own keys.
	Keys any
	// Sudo says the kind honours the shared `sudo` key; SudoDefault is its
	// value when left out. NoSudo is the hint for a step that sets `sudo`
	// anyway where the kind does not honour it.
	Sudo        bool
	SudoDefault bool
	NoSudo      string
	// OS is the default of the shared `os` key (nix-darwin: darwin).
	OS []string
	// Targets says the kind's steps can act on other machines: it takes
	// the shared `hosts` key, and each (step, host) pair becomes a step of
	// its own (see Step.Target).
	Targets bool
	// Check checks a decoded step as a whole; it runs only when every key
	// decoded. Optional.
	Check func(cfg *Config, s *Step, r Reporter)
	// CheckAll checks what no single step can tell (two file steps with one
	// destination), over the steps of this kind. Optional.
	CheckAll func(cfg *Config, steps []*Step, r StepReporter)

	keysOnce sync.Once
	keys     []*keyDecl // parsed from Keys by ownKeys
	keysErr  error
}

// Reporter collects the problems of one step. Fail reports one at the
// line of key (the step's header when the key is not set); the message is
// lowercase, the hint says what to do.
type Reporter interface {
	Fail(key, hint, format string, args ...any)
}

// StepReporter is a Reporter for any step of the config.
type StepReporter interface {
	FailStep(s *Step, key, hint, format string, args ...any)
}

// Kinds is the set of kinds a build knows, in the order they are listed.
type Kinds struct {
	list   []*Kind
	byName map[string]*Kind
}

// NewKinds makes a set of kinds. Their keys' declarations are parsed when
// first needed (see ownKeys): a run parses those of the kinds its config
// uses.
func NewKinds(kinds ...*Kind) *Kinds {
	ks := &Kinds{byName: map[string]*Kind{}}
	for _, k := range kinds {
		if _, dup := ks.byName[k.Name]; dup {
			panic(fmt.Sprintf("config: kind %q declared twice", k.Name))
		}
		ks.list = append(ks.list, k)
		ks.byName[k.Name] = k
	}
	return ks
}

// Get returns the kind named name, or nil.
func (ks *Kinds) Get(name string) *Kind {
	if ks == nil {
		return nil
	}
	return ks.byName[name]
}

// List returns the kinds in the order they were declared.
func (ks *Kinds) List() []*Kind {
	if ks == nil {
		return nil
	}
	return ks.list
}

// Names returns the kinds' names in order.
func (ks *Kinds) Names() []string {
	names := make([]string, 0, len(ks.List()))
	for _, k := range ks.List() {
		names = append(names, k.Name)
	}
	return names
}

// KeyNames lists the keys a step of kind k may set: its own, kind, and the
// shared keys it honours.
func (k *Kind) KeyNames() []string { return validKeys(k) }

// KeyDoc describes one key, for docs and tests.
type KeyDoc struct {
	Name, Type, Doc, Example, Default string
	Required                          bool
	Own                               bool // the kind's own key, not a shared one
}

func (d *keyDecl) keyDoc(own bool) KeyDoc {
	return KeyDoc{Name: d.name, Type: d.typeText(), Doc: d.doc, Example: d.example, Default: d.def, Required: d.required, Own: own}
}

// Decls describes k's own keys, in declaration order.
func (k *Kind) Decls() []KeyDoc {
	out := make([]KeyDoc, len(k.ownKeys()))
	for i, d := range k.ownKeys() {
		out[i] = d.keyDoc(true)
	}
	return out
}

// Decl describes how k takes key (its own, kind, or a shared one); nil
// when it does not.
func (k *Kind) Decl(key string) *KeyDoc {
	if key == "kind" {
		doc := kindDecl.keyDoc(false)
		return &doc
	}
	d, own := declFor(k, key)
	if d == nil {
		return nil
	}
	doc := d.keyDoc(own)
	return &doc
}

// ownKeys returns the declarations of k's own keys, parsed from the tags
// of Keys the first time they are needed. A malformed declaration is a bug
// in sysinit, which the declarations' test (TestKindExamples) finds:
// ownKeys panics.
func (k *Kind) ownKeys() []*keyDecl {
	k.keysOnce.Do(func() {
		if k.Keys != nil {
			k.keys, k.keysErr = parseDecls(k.Keys)
		}
	})
	if k.keysErr != nil {
		panic(fmt.Sprintf("config: kind %q: %v", k.Name, k.keysErr))
	}
	return k.keys
}

// key returns the declaration of one of k's own keys, or nil.
func (k *Kind) key(name string) *keyDecl {
	for _, d := range k.ownKeys() {
		if d.name == name {
			return d
		}
	}
	return nil
}

// KeysOf returns the kind's own keys of step s, decoded: a *T stored in
// s.Own by the loader, or a zero T for a step built by hand (tests).
func KeysOf[T any](s *Step) *T {
	if k, ok := s.Own.(*T); ok && k != nil {
		return k
	}
	return new(T)
}

// keyDecl is one key, as a struct tag declares it.
type keyDecl struct {
	name       string
	doc        string
	example    string
	items      string
	required   bool
	def        string
	unless     string // def applies only while this key is not set
	enum       []string
	path       string
	allowEmpty bool
	zeroHint   string
	field      []int // the field's index path in its struct
	typ        reflect.Type
}

var (
	typeString   = reflect.TypeFor[string]()
	typeBool     = reflect.TypeFor[bool]()
	typeBoolPtr  = reflect.TypeFor[*bool]()
	typeIntPtr   = reflect.TypeFor[*int]()
	typeDuration = reflect.TypeFor[time.Duration]()
	typeStrings  = reflect.TypeFor[[]string]()
	typeEnv      = reflect.TypeFor[map[string]string]()
)

// parseDecls reads the key tags of the struct v points to.
func parseDecls(v any) ([]*keyDecl, error) {
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("the declared keys must be a pointer to a struct, not %s", t)
	}
	return declsOfType(t.Elem())
}

// declsOfType reads the key tags of struct type t, and of the structs it
// embeds: kinds that share keys embed one struct of them.
func declsOfType(t reflect.Type) ([]*keyDecl, error) {
	var decls []*keyDecl
	var pairs [16]tagPair // a key's tag has a dozen
	for i := range t.NumField() {
		f := t.Field(i)
		tag := parseTag(pairs[:0], f.Tag)
		name, ok := tag.Lookup("key")
		if !ok {
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				inner, err := declsOfType(f.Type)
				if err != nil {
					return nil, err
				}
				for _, d := range inner {
					d.field = append([]int{i}, d.field...)
				}
				decls = append(decls, inner...)
			}
			continue
		}
		d := &keyDecl{
			name:     name,
			doc:      tag.Get("doc"),
			example:  tag.Get("example"),
			items:    tag.Get("items"),
			required: tag.Get("required") == "true",
			def:      tag.Get("default"),
			unless:   tag.Get("unless"),
			path:     tag.Get("path"),
			zeroHint: tag.Get("zero"),
			field:    f.Index,
			typ:      f.Type,
		}
		d.allowEmpty = tag.Get("empty") == "ok"
		if e := tag.Get("enum"); e != "" {
			d.enum = strings.Split(e, ",")
		}
		switch {
		case !f.IsExported():
			return nil, fmt.Errorf("key %q: field %s is not exported", name, f.Name)
		case d.doc == "" || d.example == "":
			return nil, fmt.Errorf("key %q has no doc or example", name)
		case d.typ != typeString && d.typ != typeBool && d.typ != typeBoolPtr && d.typ != typeIntPtr &&
			d.typ != typeDuration && d.typ != typeStrings && d.typ != typeEnv:
			return nil, fmt.Errorf("key %q: field type %s is not one the loader decodes", name, d.typ)
		case d.typ == typeStrings && d.items == "":
			return nil, fmt.Errorf("key %q: an array needs items", name)
		case d.def != "" && d.typ != typeString:
			return nil, fmt.Errorf("key %q: only strings take a default", name)
		case d.path != "" && d.path != "file" && d.path != "dir" && d.path != "dest":
			return nil, fmt.Errorf("key %q: unknown path rule %q", name, d.path)
		}
		decls = append(decls, d)
	}
	return decls, nil
}

// typeText describes a key's type for the docs.
func (d *keyDecl) typeText() string {
	switch d.typ {
	case typeString:
		if len(d.enum) > 0 {
			return "string: " + strings.Join(d.enum, " | ")
		}
		return "string"
	case typeBool, typeBoolPtr:
		return "bool"
	case typeIntPtr:
		return "integer ≥ 1"
	case typeDuration:
		return "duration"
	case typeStrings:
		return "array of " + d.items
	case typeEnv:
		return "table of strings"
	}
	return d.typ.String()
}

// Values returns the keys of s that hold a value — shared and the kind's
// own, defaults included — by name: what the step was configured with,
// for listings and tests. Strings, bools, durations, ints, []string and
// map[string]string come as themselves (a *bool or *int as its value).
func (s *Step) Values() map[string]any {
	out := map[string]any{}
	add := func(v reflect.Value, decls []*keyDecl) {
		for _, d := range decls {
			f := v.FieldByIndex(d.field)
			if f.IsZero() {
				continue
			}
			if f.Kind() == reflect.Pointer {
				f = f.Elem()
			}
			out[d.name] = f.Interface()
		}
	}
	add(reflect.ValueOf(s).Elem(), sharedDecls())
	if s.Own != nil {
		v := reflect.ValueOf(s.Own)
		if decls, err := declsOfType(v.Type().Elem()); err == nil {
			add(v.Elem(), decls)
		}
	}
	return out
}

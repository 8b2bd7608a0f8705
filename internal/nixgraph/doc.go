// Package nixgraph finds which files of a flake a configuration can read,
// from the path references in its Nix files.
//
// A nix step whose inputs are every tracked file re-evaluates each host on
// any edit. Analyze narrows that to the tracked files a configuration can
// read — soundly: a file the configuration reads but the analysis missed
// would be a wrong skip, the worst bug, while a file it adds needlessly
// only costs an evaluation. So wherever a reference cannot be followed
// exactly, it widens, and the Result names the construct and file:line
// that widened it.
//
// # Lexing
//
// Lex follows Nix's own lexer (src/libexpr/lexer.l): the same patterns,
// flex's longest match, the same start-condition stack. So path literals
// (./x, ../y, ./., a/b, /abs, ~/x, <x>, and interpolated ./x/${y}) are found
// in code and inside ${…} of both string kinds, while comments, string
// text and the escapes of both string kinds ($${, \$, and the indented
// string's quote-quote-dollar, triple quote and quote-quote-backslash)
// are not mistaken for code.
// TestLexAgainstNix holds it to nix-instantiate --parse on every Nix of the
// test matrix.
//
// # References
//
// A reference resolves against the directory of the file that holds it,
// and reaches every tracked file whose path starts with it: the file
// itself, everything under it when it is a directory (default.nix, and
// whatever a copy such as source = ./config takes), and the siblings a
// concatenation can name (let b = ./banner; … b + ".txt" reads
// banner.txt). Only tracked files count; flake.nix and flake.lock are
// always reached. Every reached .nix file is read for its own references,
// and so is a file of any name that import or callPackage reads, because a
// path value may be imported anywhere (readDir + import). A symlink
// reaches its target, and a symlinked directory on the way to a path is
// reached.
//
// What cannot be followed exactly widens:
//
//   - an interpolated path (./hosts/${h}/default.nix) or a path plus an
//     interpolated string (./modules + "/${n}.nix") reaches what starts
//     with the literal prefix and holds the literal tail; a path plus any
//     other expression reaches its prefix (./a + x: everything starting
//     with a); a literal string added to a path is added to it
//     (./. + "/dyn.nix" reaches dyn.nix). Dynamic text is taken not to
//     hold "..": a literal ".." after an interpolation widens to the
//     ancestor it could climb to.
//   - builtins.readDir, builtins.path, filterSource, lib.filesystem.*,
//     lib.fileset.*, lib.sources.*, cleanSource, import-tree, haumea's
//     load: their literal argument is reached (it already is, as a
//     reference) and named; a non-literal argument widens to the file's
//     own directory, as does import (… + …) with no literal inside.
//   - dirOf ./x reaches x's parent; dirOf of anything else, the whole tree.
//   - self used as a value ("${self}/x", self + "/x", toString self,
//     self.outPath, self.narHash, self.sourceInfo, with self; also as
//     inputs.self or args.self, through arguments taken whole), and inputs
//     used as a value (it holds self: nix.registry = mapAttrs … inputs puts
//     the tree's store path in the system) reach the whole tree. Passing
//     them on under their own name is no use (inherit self inputs;
//     specialArgs = inputs), nor is binding them ({ self, ... }:,
//     self: super:), nor testing attributes (self ? rev).
//   - self.rev, shortRev, dirtyRev, dirtyShortRev, lastModified,
//     lastModifiedDate, revCount (also through inputs.self, sourceInfo,
//     and self ? rev), builtins.fetchGit, fetchTree, git+file: references
//     and lib.fileset.gitTracked read git metadata: GitHead reports them,
//     and HEAD's commit and whether the tree is dirty become inputs that
//     no file's content shows.
//   - another configuration (outputs.nixosConfigurations.b.config…):
//     named literally and known to the Request, its entries are reached;
//     otherwise the whole tree. attrNames of the configurations reads only
//     their names.
//   - builtins.getFlake, fetchGit and fetchTree of a local path reach it;
//     of a computed reference, the whole tree. A flake input with a local
//     URL (path:./sub, git+file:…) is reached.
//   - an absolute path into the tree (Request.Roots) is reached, and also
//     reported as impure (with --impure Nix reads untracked files there).
//
// Impure lists what only an active-system probe can catch: absolute paths
// outside the tree, ~/…, <…> search paths, builtins.getEnv, currentTime,
// and references that climb out of the tree.
//
// # flake.nix and the other configurations
//
// flake.nix defines the configuration, so its references are followed
// too: shared overlays, lib and modules it hands every host are inputs.
// But it defines every host as well: what sits in another configuration's
// own definition (under nixosConfigurations.b = …, or
// nixosConfigurations = { b = …; }, the name literal and that of one of
// Request.Others; see ref.Owner) is evaluated only when configuration b
// is, so it waits, like a deferred output, until a reached file reads b
// by name (self.nixosConfigurations.b, refOutputs), or any configuration
// by a computed name. Every other reference of flake.nix is followed,
// into any entry: one in this configuration's own definition, in a let
// binding, under a computed name (genAttrs, a set handed to mapAttrs), or
// where the enclosing output cannot be told; and so are the references of
// every file flake.nix leads to. A reference to flake.nix itself (import
// ./flake.nix, from any reached file, or a computed import that may name
// it) may evaluate any output: nothing of flake.nix waits any longer.
// And what flake.nix defines under an
// output a configuration reads only by asking for it — packages, checks,
// deploy, hydraJobs, devShells, apps, overlays, nixosModules, lib … (see
// deferredOutputs) — is followed only when a reached file reads that
// output (self.packages, inputs.self.overlays, outputs.nixosModules as
// handed down by inherit (self) outputs, self'.packages, config.flake.X).
// Only an output name at the top of the outputs (or under flake-parts'
// perSystem and flake) defers: foo.packages or bar = { packages = …; }
// is an attribute a configuration may read by that path, followed as
// any other.
// A let binding of flake.nix (outside any output's definition) waits the
// same way: what its value references is followed only when its name is
// used at a place that is followed — outside every deferred output, under
// a deferred output a reached file reads, or in the value of another let
// binding that is followed (transitively; cycles end). A binding's value
// can only be reached through its name (let names are lexical: with,
// inherit (x) and attrValues see only attribute sets), so every
// identifier with the name counts as a use, shadowed or not: with name;,
// inherit name; into a set that is not deferred, f name passed to a
// function — each is a use where it stands. A rec set in flake.nix (or the
// old let { … }) defers nothing; neither does what follows an assert …;
// or with …; written directly in a let binding's value.
//
// # Caching
//
// The references of a file depend only on its content, so a Cache keyed by
// content hash (the same xxh3-128 as fingerprint.Sum) makes a warm run
// parse nothing, and, when the FileSource hands over the hashes its stat
// cache holds, read nothing. Marshal and UnmarshalCache store it; a cache
// written under other rules (factsVersion) is dropped, not trusted.
//
// # What it does not see
//
// Values that name files without a path literal, self or inputs in sight:
// self passed on under another name by code the analysis cannot see into
// (an input flake's function), module arguments handed whole to a function
// (f args) that reads self from them, a path built from a string that is not a
// path literal, self, or an absolute path (builtins.toPath of a computed
// string). And flake.nix is read token by token: which output an
// expression sits under is judged from the attribute names around it.
// Set Request.SetAsideWhole to see what a configuration reads apart from
// its whole-tree widenings; that result is not sound.
package nixgraph

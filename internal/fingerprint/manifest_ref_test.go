package fingerprint

import "fmt"

// diff is DiffEncoded on decoded manifests: the reference it is tested
// against. A nil manifest counts as empty, and a missing entry as absent.
func diff(old, new *Manifest) []Change {
	present := func(m *Manifest) []Entry {
		var es []Entry
		if m != nil {
			for _, e := range m.Entries {
				if e.Type != TypeMissing {
					es = append(es, e)
				}
			}
		}
		return es
	}
	a, b := present(old), present(new)
	var out []Change
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Path < b[j].Path):
			out = append(out, Change{Path: a[i].Path, Kind: ChangeRemoved})
			i++
		case i == len(a) || b[j].Path < a[i].Path:
			out = append(out, Change{Path: b[j].Path, Kind: ChangeAdded})
			j++
		default:
			if a[i].Type != b[j].Type || a[i].Size != b[j].Size || a[i].Hash != b[j].Hash {
				out = append(out, Change{Path: a[i].Path, Kind: ChangeModified})
			}
			i++
			j++
		}
	}
	return out
}

// unmarshalManifest decodes what MarshalBinary wrote, for tests of the
// stored form (sysinit itself only diffs it, with DiffEncoded). It rejects truncated or
// corrupt data, unsorted or duplicate paths, unknown types and a digest that
// does not match the entries. It also reads the stored form of earlier
// versions, which was the canonical encoding.
func unmarshalManifest(data []byte) (*Manifest, error) {
	r, err := newManifestReader(data)
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, r.n)
	for i := range entries {
		raw, err := r.next()
		if err != nil {
			return nil, err
		}
		entries[i] = Entry{Path: string(raw.path), Type: raw.typ, Size: raw.size, Hash: raw.hash}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	m := &Manifest{Entries: entries, Digest: computeDigest(entries)}
	if string(m.Digest[:]) != string(r.digest) {
		return nil, fmt.Errorf("decoding manifest: %w: digest does not match entries", errBadManifest)
	}
	return m, nil
}

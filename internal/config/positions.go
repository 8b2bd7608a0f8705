package config

import (
	"sort"

	"github.com/pelletier/go-toml/v2/unstable"
)

// posNode is where a key, table or array element is first defined in the
// file, with the positions of what it holds. The decoder gives values but no
// positions; a second pass over go-toml's AST builds this tree, so that each
// error can point at the line to fix.
//
// The document has already been decoded without error when the tree is
// built, so the walk does not re-check TOML semantics (duplicate keys and the
// like). A nil *posNode is valid and has no position: lookups of keys the
// tree lacks degrade to "no line" instead of failing.
type posNode struct {
	off   int // byte offset of the definition
	keys  map[string]*posNode
	elems []*posNode
}

// key returns the node of the table key name under n, or nil.
func (n *posNode) key(name string) *posNode {
	if n == nil {
		return nil
	}
	return n.keys[name]
}

// index returns the node of array element i under n, or nil.
func (n *posNode) index(i int) *posNode {
	if n == nil || i < 0 || i >= len(n.elems) {
		return nil
	}
	return n.elems[i]
}

// offset returns where n is defined, or -1 for a nil node.
func (n *posNode) offset() int {
	if n == nil {
		return -1
	}
	return n.off
}

// add returns the child name of n, creating it at off when the file has not
// defined it before: "a.b.c = 1" and "[a.b.c]" define a and a.b too, and
// the first definition is the one to point at.
func (n *posNode) add(name string, off int) *posNode {
	if c, ok := n.keys[name]; ok {
		return c
	}
	if n.keys == nil {
		n.keys = make(map[string]*posNode)
	}
	c := &posNode{off: off}
	n.keys[name] = c
	return c
}

// positions is the position tree of one document and the means to turn its
// offsets into lines.
type positions struct {
	root       *posNode
	lineStarts []int // byte offset of the start of each line; lineStarts[0] == 0
}

func indexPositions(data []byte) (*positions, error) {
	ps := &positions{root: &posNode{}, lineStarts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			ps.lineStarts = append(ps.lineStarts, i+1)
		}
	}

	var p unstable.Parser
	p.Reset(data)
	table := ps.root // the current [table] or [[array table]]
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = addKey(ps.root, e.Key())
		case unstable.KeyValue:
			addValue(addKey(table, e.Key()), e.Value())
		}
	}
	return ps, p.Error()
}

// addKey adds each part of a dotted key under n and returns the last.
func addKey(n *posNode, it unstable.Iterator) *posNode {
	for it.Next() {
		k := it.Node()
		n = n.add(string(k.Data), int(k.Raw.Offset))
	}
	return n
}

// addValue adds what an inline table or array holds under n, their key.
func addValue(n *posNode, v *unstable.Node) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				addValue(addKey(n, kv.Key()), kv.Value())
			}
		}
	case unstable.Array:
		it := v.Children()
		for it.Next() {
			el := it.Node()
			if el.Kind == unstable.Comment {
				continue
			}
			// Nested arrays carry no range of their own; they are found
			// at their parent's position.
			c := &posNode{off: n.off}
			if el.Raw.Length > 0 {
				c.off = int(el.Raw.Offset)
			}
			n.elems = append(n.elems, c)
			addValue(c, el)
		}
	}
}

// line returns the 1-based line of n, or 0 for a nil node.
func (ps *positions) line(n *posNode) int {
	off := n.offset()
	if off < 0 {
		return 0
	}
	return sort.Search(len(ps.lineStarts), func(i int) bool { return ps.lineStarts[i] > off })
}

package config

import (
	"fmt"
	"strings"
)

// checkNames refuses step names that differ only in case: their log files
// would be one file on a case-insensitive file system, as macOS's usually is.
func (l *loader) checkNames() {
	seen := make(map[string]string, len(l.cfg.Steps))
	for _, s := range l.cfg.Steps {
		low := strings.ToLower(s.Name)
		if first, ok := seen[low]; ok {
			l.fail(s.Pos, "rename one; on a case-insensitive file system, as macOS usually has, their log files would collide",
				"step %q differs from step %q only in case", s.Name, first)
			continue
		}
		seen[low] = s.Name
	}
}

// maxAfterSuggestions bounds the unknown `after` names that get a "did
// you mean" hint, in file order.
const maxAfterSuggestions = 20

// checkAfter checks that every `after` entry names another step, and that
// the steps form no cycle: a step in a cycle could never start.
func (l *loader) checkAfter() {
	steps := l.cfg.Steps
	index := make(map[string]int, len(steps))
	names := make([]string, len(steps))
	for i, s := range steps {
		index[s.Name] = i
		names[i] = s.Name
	}

	// edges[i] holds, for each valid `after` entry of step i, the step it
	// names and the entry's position in the array.
	type edge struct{ to, el int }
	edges := make([][]edge, len(steps))
	suggested := 0
	for i, s := range steps {
		ap := l.stepNode(s.Name).key("after")
		for j, a := range s.After {
			to, ok := index[a]
			switch {
			case a == "" || a == s.Name:
				// reported by strs and checkValues
			case !ok:
				hint := ""
				c := ""
				// Each suggestion compares the name with every step; a
				// file naming thousands of unknown steps is not a few
				// typos, and must not cost their product.
				if suggested < maxAfterSuggestions {
					suggested++
					c = closest(a, names)
				}
				if c != "" {
					hint = fmt.Sprintf("did you mean %q?", c)
				} else if len(names) <= 12 {
					hint = "steps: " + strings.Join(names, ", ")
				}
				l.fail(l.at(ap.index(j)), hint, "`after` names unknown step %q", a)
			default:
				edges[i] = append(edges[i], edge{to, j})
			}
		}
	}

	// Tarjan's strongly connected components; each component of two or more
	// steps holds at least one cycle, and one error per component names the
	// shortest cycle through its first step in file order.
	n := len(steps)
	idx := make([]int, n) // 0 = unvisited, else DFS order + 1
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	counter := 0
	var comps [][]int
	var visit func(v int)
	visit = func(v int) {
		counter++
		idx[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range edges[v] {
			switch {
			case idx[e.to] == 0:
				visit(e.to)
				low[v] = min(low[v], low[e.to])
			case onStack[e.to]:
				low[v] = min(low[v], idx[e.to])
			}
		}
		if low[v] == idx[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				comps = append(comps, comp)
			}
		}
	}
	for v := range n {
		if idx[v] == 0 {
			visit(v)
		}
	}

	for _, comp := range comps {
		in := make(map[int]bool, len(comp))
		start := comp[0]
		for _, v := range comp {
			in[v] = true
			start = min(start, v)
		}
		// Breadth-first from start back to itself, within the component.
		prev := map[int]edge{} // node -> (predecessor, its after element)
		queue := []int{start}
		found := false
		for len(queue) > 0 && !found {
			v := queue[0]
			queue = queue[1:]
			for _, e := range edges[v] {
				if !in[e.to] {
					continue
				}
				if _, seen := prev[e.to]; seen {
					continue
				}
				prev[e.to] = edge{v, e.el}
				if e.to == start {
					found = true
					break
				}
				queue = append(queue, e.to)
			}
		}
		if !found {
			continue // cannot happen in a component; never loop on it
		}
		// Walk back from start to recover the cycle, then report it at the
		// `after` entry of start that begins it.
		cycle := []int{start}
		firstEl := 0
		for v := start; ; {
			p := prev[v]
			if p.to == start {
				firstEl = p.el
				break
			}
			cycle = append(cycle, p.to)
			v = p.to
		}
		path := []string{steps[start].Name}
		for i := len(cycle) - 1; i >= 0; i-- {
			path = append(path, steps[cycle[i]].Name)
		}
		l.fail(l.at(l.stepNode(steps[start].Name).key("after").index(firstEl)),
			"steps in a cycle can never start; remove one of these `after` entries",
			"cycle: %s", strings.Join(path, " -> "))
	}
}

package nixgraph

import (
	"encoding/binary"

	"github.com/zeebo/xxh3"
)

// appendSum appends the checksum Marshal ends with.
func appendSum(b []byte) []byte { return binary.LittleEndian.AppendUint64(b, xxh3.Hash(b)) }

package projections

import "encoding/binary"

// HandleOf is the handle of an interaction whose first change a view applied at stream
// position seq: 8 bytes, big-endian. The history and the timeline key an interaction's
// entries by it rather than by the producer's id, which need not sort by time: new
// interactions' entries then sit together at the end of each tree. The position is the
// same live and in any replay, so a rebuilt file equals the live one byte for byte.
func HandleOf(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

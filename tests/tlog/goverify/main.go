// Command goverify checks a C2SP tlog-tiles log with Go's own packages, knowing
// nothing of shanlian: golang.org/x/mod/sumdb/note verifies the signed checkpoint
// with the published verifier key, and golang.org/x/mod/sumdb/tlog authenticates
// the tiles against the checkpoint's root and proves every entry's inclusion.
//
//	goverify -url http://127.0.0.1:8000/tlog -vkey 'origin+1234abcd+AQ…' \
//	         [-witness 'w.example/w1+89abcdef+BA…' … -quorum 1]
//
// It exits 0 and prints "ok …" when everything checks, 1 with the reason otherwise.
// Built by tests/api/test_tlog_go.py from Debian's golang-go and
// golang-golang-x-mod-dev (GOPATH mode, offline).
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8 // c2sp.org/tlog-tiles: tiles of 256 hashes

var client = &http.Client{Timeout: 30 * time.Second}

var cosigned int // witness cosignatures that verified

func fetch(base, path string) ([]byte, error) {
	response, err := client.Get(base + "/" + path)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, response.Status)
	}
	return body, nil
}

// c2spPath adapts Go's sumdb tile path (tile/H/L/N, tile/H/data/N) to the C2SP
// layout (tile/L/N, tile/entries/N): the same index and width encoding, no height.
func c2spPath(t tlog.Tile) string {
	path := t.Path()
	prefix := fmt.Sprintf("tile/%d/", t.H)
	if !strings.HasPrefix(path, prefix) {
		panic("unexpected tile path " + path)
	}
	rest := strings.TrimPrefix(path, prefix)
	if strings.HasPrefix(rest, "data/") {
		rest = "entries/" + strings.TrimPrefix(rest, "data/")
	}
	return "tile/" + rest
}

// tileReader reads tiles over HTTP; tlog.TileHashReader authenticates every one it
// uses against the tree hash, so what is kept here is only a download cache.
type tileReader struct {
	base  string
	cache map[string][]byte
}

func (r *tileReader) Height() int { return height }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := c2spPath(t)
		body, ok := r.cache[path]
		if !ok {
			var err error
			if body, err = fetch(r.base, path); err != nil {
				return nil, err
			}
			r.cache[path] = body
		}
		data[i] = body
	}
	return data, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// cosigner verifies a witness's timestamped Ed25519 cosignature (c2sp.org/
// tlog-cosignature, cosignature/v1): the signature is an 8-byte big-endian time and
// 64 bytes of Ed25519 over "cosignature/v1\ntime <t>\n" and the note's text.
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c cosigner) Name() string    { return c.name }
func (c cosigner) KeyHash() uint32 { return c.hash }
func (c cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t == 0 || t > 1<<63-1 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

// newCosigner reads a witness's vkey: name+hex(key id)+base64(0x04 || key), the key id
// being SHA-256(name || "\n" || 0x04 || key)[:4].
func newCosigner(vkey string) (cosigner, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return cosigner{}, errors.New("a witness key reads name+keyid+key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return cosigner{}, errors.New("not a cosignature/v1 key (0x04 and 32 bytes)")
	}
	id := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if hex.EncodeToString(id[:4]) != parts[1] {
		return cosigner{}, errors.New("the key id is not the key's")
	}
	return cosigner{parts[0], binary.BigEndian.Uint32(id[:4]), ed25519.PublicKey(raw[1:])}, nil
}

// witnessList collects the repeated -witness flags.
type witnessList []string

func (w *witnessList) String() string     { return strings.Join(*w, ",") }
func (w *witnessList) Set(v string) error { *w = append(*w, v); return nil }

var (
	witnessKeys witnessList
	quorum      int
)

// checkpoint opens the signed note and reads the C2SP checkpoint in it; with witness
// keys, at least quorum of their cosignatures must verify too (note.Open checks every
// signature by a known key and ignores the others).
func checkpoint(msg []byte, verifier note.Verifier) (tlog.Tree, error) {
	verifiers := []note.Verifier{verifier}
	for _, vkey := range witnessKeys {
		c, err := newCosigner(vkey)
		if err != nil {
			return tlog.Tree{}, fmt.Errorf("witness key %q: %w", vkey, err)
		}
		verifiers = append(verifiers, c)
	}
	opened, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	logSigned := false
	cosigned = 0
	for _, sig := range opened.Sigs {
		if sig.Name == verifier.Name() && sig.Hash == verifier.KeyHash() {
			logSigned = true
		} else {
			cosigned++
		}
	}
	if !logSigned {
		return tlog.Tree{}, errors.New("checkpoint signature: not signed by the log's key")
	}
	if cosigned < quorum {
		return tlog.Tree{}, fmt.Errorf("checkpoint cosignatures: %d verify, %d needed", cosigned, quorum)
	}
	lines := strings.Split(opened.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return tlog.Tree{}, errors.New("checkpoint: fewer than three lines")
	}
	if lines[0] != verifier.Name() {
		return tlog.Tree{}, fmt.Errorf("checkpoint origin %q is not %q", lines[0], verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return tlog.Tree{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return tlog.Tree{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	var hash tlog.Hash
	copy(hash[:], root)
	return tlog.Tree{N: size, Hash: hash}, nil
}

// entries reads every entry bundle of the tree: uint16 big-endian length prefixes.
func entries(base string, size int64) ([][]byte, error) {
	var all [][]byte
	for n := int64(0); n<<height < size; n++ {
		width := size - n<<height
		if width > 1<<height {
			width = 1 << height
		}
		t := tlog.Tile{H: height, L: -1, N: n, W: int(width)}
		bundle, err := fetch(base, c2spPath(t))
		if err != nil {
			return nil, err
		}
		for count := int64(0); count < width; count++ {
			if len(bundle) < 2 {
				return nil, fmt.Errorf("%s: entry %d is cut short", c2spPath(t), count)
			}
			length := int(bundle[0])<<8 | int(bundle[1])
			if len(bundle) < 2+length {
				return nil, fmt.Errorf("%s: entry %d is cut short", c2spPath(t), count)
			}
			all = append(all, bundle[2:2+length])
			bundle = bundle[2+length:]
		}
		if len(bundle) != 0 {
			return nil, fmt.Errorf("%s: %d bytes after its %d entries", c2spPath(t), len(bundle), width)
		}
	}
	return all, nil
}

func verify(base, vkey string) (string, error) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("verifier key: %w", err)
	}
	msg, err := fetch(base, "checkpoint")
	if err != nil {
		return "", err
	}
	tree, err := checkpoint(msg, verifier)
	if err != nil {
		return "", err
	}
	reader := &tileReader{base: base, cache: map[string][]byte{}}
	hashes := tlog.TileHashReader(tree, reader)

	// The root from the served tiles alone (TileHashReader authenticates them).
	if tree.N > 0 {
		root, err := tlog.TreeHash(tree.N, hashes)
		if err != nil {
			return "", fmt.Errorf("tree hash from the tiles: %w", err)
		}
		if root != tree.Hash {
			return "", fmt.Errorf("the tiles give root %v, the checkpoint %v", root, tree.Hash)
		}
	}

	// Every entry: its record hash is proven included by the tiles.
	records, err := entries(base, tree.N)
	if err != nil {
		return "", err
	}
	var stored []tlog.Hash
	memory := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, record := range records {
		proof, err := tlog.ProveRecord(tree.N, int64(i), hashes)
		if err != nil {
			return "", fmt.Errorf("inclusion proof of entry %d from the tiles: %w", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, int64(i), tlog.RecordHash(record)); err != nil {
			return "", fmt.Errorf("entry %d of the bundles: %w", i, err)
		}
		more, err := tlog.StoredHashes(int64(i), record, memory)
		if err != nil {
			return "", err
		}
		stored = append(stored, more...)
	}

	// Every tile of the tree, byte for byte, as the entries alone imply.
	if tree.N > 0 {
		root, err := tlog.TreeHash(tree.N, memory)
		if err != nil || root != tree.Hash {
			return "", fmt.Errorf("the entries give root %v, the checkpoint %v (%v)", root, tree.Hash, err)
		}
	}
	tiles := 0
	for level := 0; tree.N>>(uint(level)*height) > 0; level++ {
		count := tree.N >> (uint(level) * height)
		for n := int64(0); n<<height < count; n++ {
			width := count - n<<height
			if width > 1<<height {
				width = 1 << height
			}
			t := tlog.Tile{H: height, L: level, N: n, W: int(width)}
			want, err := tlog.ReadTileData(t, memory)
			if err != nil {
				return "", err
			}
			got, err := fetch(base, c2spPath(t))
			if err != nil {
				return "", err
			}
			if string(got) != string(want) {
				return "", fmt.Errorf("%s differs from the tile the entries imply", c2spPath(t))
			}
			tiles++
		}
	}
	return fmt.Sprintf("ok origin=%s size=%d root=%s entries=%d tiles=%d cosigned=%d",
		verifier.Name(), tree.N, base64.StdEncoding.EncodeToString(tree.Hash[:]), len(records), tiles, cosigned), nil
}

func main() {
	base := flag.String("url", "", "the log's prefix, e.g. http://127.0.0.1:8000/tlog")
	vkey := flag.String("vkey", "", "the log's verifier key (name+keyid+key)")
	flag.Var(&witnessKeys, "witness", "a witness's cosignature/v1 key (repeatable)")
	flag.IntVar(&quorum, "quorum", 0, "how many witness cosignatures must verify")
	flag.Parse()
	if *base == "" || *vkey == "" {
		fmt.Fprintln(os.Stderr, "usage: goverify -url PREFIX -vkey VKEY")
		os.Exit(2)
	}
	result, err := verify(strings.TrimRight(*base, "/"), *vkey)
	if err != nil {
		fmt.Println("rejected:", err)
		os.Exit(1)
	}
	fmt.Println(result)
}

// Package pgpeer is the bench's yardstick (issue 16): the History of interactions and the
// customer timeline built the way a team would build them on PostgreSQL, behind the same
// thin HTTP layer as the ledger (net/http, the JWT check of adapters/auth,
// encoding/json). It ingests the ledger's envelopes over POST /v1/events (NDJSON, one
// transaction per batch, idempotent by event id, interaction rows folded with
// INSERT ... ON CONFLICT DO UPDATE under the fold's stamp rules) and answers the bench's
// queries from SQL. Cluster runs a throwaway PostgreSQL in a temp dir.
//
// # Caveats
//
//   - It answers what the bench asks, with the ledger's parameters (history.ParseQuery),
//     but pages have no next_cursor, the detail has no buttons, CRM links and surveys are
//     not folded, and customer.erased is stored but not applied.
//   - A merge chain is resolved one hop (the scenario merges each customer once).
package pgpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// ErrNotInstalled is returned by StartCluster when no initdb/pg_ctl can be found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (Debian package postgresql)")

// Cluster is a PostgreSQL cluster in a temp dir, listening on a unix socket only.
type Cluster struct {
	dir  string // data, socket and log; removed by Stop
	bin  string // the directory of pg_ctl
	cred *syscall.Credential
}

// FindBin returns the directory holding initdb and pg_ctl: PATH first, then Debian's
// /usr/lib/postgresql/<version>/bin (the newest), where the package puts them.
func FindBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// StartCluster runs initdb and pg_ctl start in a new temp dir. PostgreSQL refuses to run
// as root: as root it runs them as the postgres user (which the Debian package creates),
// owning the temp dir.
func StartCluster(ctx context.Context) (*Cluster, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ledger-bench-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres: running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "bench", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A competent setup for a bench box, not a laptop default: buffers sized for the
	// data, WAL large enough that checkpoints do not run during ingest, and no TCP.
	// Durability stays on (fsync, synchronous_commit), as the ledger's.
	opts := "-c listen_addresses= -c unix_socket_directories=" + dir +
		" -c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=30min" +
		" -c work_mem=32MB -c maintenance_work_mem=256MB -c effective_cache_size=4GB"
	if err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// DSN is the connection string of database db over the cluster's socket.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=bench dbname=%s sslmode=disable", c.dir, db)
}

// Stop stops the server (fast shutdown) and removes the temp dir.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop")
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("postgres: %s: %w: %s", name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// Package store keeps banger's records in SQLite (modernc.org/sqlite, no cgo).
// The daemon is its only writer. The schema grows by numbered migrations:
// to add a table, drop migrations/NNNN_name.sql next to the others (the next
// number) and a file of methods beside images.go.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is an open banger database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// dsnOptions: WAL so readers never block the writer; a busy timeout so
// concurrent writers queue instead of failing; immediate transactions so a
// read-then-write transaction cannot deadlock on lock upgrade.
const dsnOptions = "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate"

// Open opens (creating if needed) the database at path and applies any
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sql.Open("sqlite", path+dsnOptions)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// classify turns SQLite constraint violations into errdefs categories.
// what describes the object ("image \"x\"").
func classify(err error, what string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return errdefs.Newf(errdefs.ErrExists, "%s already exists", what)
		}
	}
	return err
}

// execOne runs a statement that must touch exactly one row; none means the
// object is missing.
func (s *Store) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return classify(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errdefs.Newf(errdefs.ErrNotFound, "%s not found", what)
	}
	return nil
}

// listRows runs query and scans every row with scan; what names the kind
// of record in errors. It never returns a nil slice.
func listRows[T any](ctx context.Context, s *Store, query, what string, scan func(scanner, string) (T, error)) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows, what)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing stored time %q: %w", s, err)
	}
	return t, nil
}

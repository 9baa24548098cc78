package chatlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// s3Sink writes each batch as one gzip-compressed object of newline-delimited records, keyed
// as IVS does, to S3 or to a local directory standing in for the bucket.
type s3Sink struct {
	cfg       Config
	localDirs map[string]string
	client    *s3.Client
	err       error
}

func (s *s3Sink) limits() limits {
	return limits{count: maxHeld, bytes: s.cfg.S3BatchBytes, interval: s.cfg.S3BatchInterval}
}

// Objects are per room: the key names the room.
func (s *s3Sink) group(x *engine.ChatLogEntry) string {
	return x.Account + "/" + x.Region + "/" + x.RoomID
}

func (s *s3Sink) size(x *engine.ChatLogEntry) int { return len(x.Data) + 1 }

func (s *s3Sink) ship(ctx context.Context, b *batch) error {
	body, err := gzipLines(b)
	if err != nil {
		return err
	}
	earliest := b.items[0].at
	for _, it := range b.items {
		if it.at.Before(earliest) {
			earliest = it.at
		}
	}
	var unique [8]byte
	_, _ = rand.Read(unique[:])
	key := chat.S3LogKey(b.account, b.region, b.room, earliest, hex.EncodeToString(unique[:]))
	bucket := b.dest.S3.BucketName
	if dir, ok := s.localDirs[bucket]; ok {
		return writeLocal(dir, key, body)
	}
	if s.err != nil {
		return s.err
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/gzip")})
	if err != nil {
		return fmt.Errorf("s3 PutObject s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

func gzipLines(b *batch) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(b.bytes/4 + 64)
	zw := gzip.NewWriter(&buf)
	for _, it := range b.items {
		if _, err := zw.Write(it.x.Data); err != nil {
			return nil, err
		}
		if _, err := zw.Write([]byte{'\n'}); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLocal stores an object under dir with the S3 key as its path. The file appears whole
// (written aside, synced, renamed) and is on disk before the records are acknowledged.
func writeLocal(dir, key string, body []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(key))
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("local bucket directory: %w", err)
	}
	f, err := os.CreateTemp(parent, ".ivschatd-*.tmp")
	if err != nil {
		return fmt.Errorf("local bucket directory: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("local bucket directory: %w", err)
	}
	if d, err := os.Open(parent); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

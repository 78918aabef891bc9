package kit

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Postgres is one connection speaking PostgreSQL's wire protocol (version 3, simple queries),
// authenticated by SCRAM-SHA-256, MD5 or a clear password.
type Postgres struct {
	conn net.Conn
	in   *bufio.Reader
}

// DialPostgres connects with a postgresql:// URL such as an add-on's DATABASE_URL.
func DialPostgres(raw string) (*Postgres, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgresql" && u.Scheme != "postgres") {
		return nil, fmt.Errorf("not a postgresql:// URL")
	}
	password, _ := u.User.Password()
	user, database := u.User.Username(), strings.TrimPrefix(u.Path, "/")
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	pg := &Postgres{conn: conn, in: bufio.NewReader(conn)}
	if err := pg.startup(user, password, database); err != nil {
		conn.Close()
		return nil, err
	}
	return pg, nil
}

// Close ends the session.
func (pg *Postgres) Close() {
	_ = pg.send('X', nil)
	pg.conn.Close()
}

func (pg *Postgres) send(kind byte, body []byte) error {
	msg := make([]byte, 0, len(body)+5)
	if kind != 0 {
		msg = append(msg, kind)
	}
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(body)+4))
	_, err := pg.conn.Write(append(msg, body...))
	return err
}

func (pg *Postgres) receive() (byte, []byte, error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(pg.in, head); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
	_, err := io.ReadFull(pg.in, body)
	return head[0], body, err
}

func cstrings(items ...string) []byte {
	var out []byte
	for _, item := range items {
		out = append(append(out, item...), 0)
	}
	return out
}

func serverError(body []byte) error {
	fields := map[byte]string{}
	for len(body) > 1 {
		end := strings.IndexByte(string(body[1:]), 0)
		if end < 0 {
			break
		}
		fields[body[0]] = string(body[1 : 1+end])
		body = body[2+end:]
	}
	return fmt.Errorf("server: %s %s", fields['C'], fields['M'])
}

func (pg *Postgres) startup(user, password, database string) error {
	body := binary.BigEndian.AppendUint32(nil, 196608)
	body = append(body, cstrings("user", user, "database", database, "application_name", "platykus-example")...)
	if err := pg.send(0, append(body, 0)); err != nil {
		return err
	}
	var scram *scramState
	for {
		kind, msg, err := pg.receive()
		if err != nil {
			return err
		}
		switch kind {
		case 'E':
			return serverError(msg)
		case 'Z':
			return nil
		case 'R':
			code := binary.BigEndian.Uint32(msg)
			switch code {
			case 0: // authenticated
			case 3:
				err = pg.send('p', cstrings(password))
			case 5:
				inner := md5.Sum([]byte(password + user))
				outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), msg[4:8]...))
				err = pg.send('p', cstrings("md5"+hex.EncodeToString(outer[:])))
			case 10:
				scram = newScram(password)
				first := scram.clientFirst()
				payload := append(cstrings("SCRAM-SHA-256"), binary.BigEndian.AppendUint32(nil, uint32(len(first)))...)
				err = pg.send('p', append(payload, first...))
			case 11:
				var final string
				if scram == nil {
					return errors.New("SASL continue before SASL start")
				}
				final, err = scram.clientFinal(string(msg[4:]))
				if err == nil {
					err = pg.send('p', []byte(final))
				}
			case 12:
				if scram == nil || !scram.verify(string(msg[4:])) {
					return errors.New("the server's SCRAM signature does not verify")
				}
			default:
				return fmt.Errorf("unsupported authentication method %d", code)
			}
			if err != nil {
				return err
			}
		}
	}
}

// Query runs one SQL text and returns its rows, each column as text ("" for NULL).
func (pg *Postgres) Query(sql string) ([][]string, error) {
	if err := pg.send('Q', cstrings(sql)); err != nil {
		return nil, err
	}
	var rows [][]string
	var failure error
	for {
		kind, msg, err := pg.receive()
		if err != nil {
			return nil, err
		}
		switch kind {
		case 'E':
			failure = serverError(msg)
		case 'D':
			count := int(binary.BigEndian.Uint16(msg))
			row, rest := make([]string, 0, count), msg[2:]
			for i := 0; i < count; i++ {
				size := int32(binary.BigEndian.Uint32(rest))
				rest = rest[4:]
				if size < 0 {
					row = append(row, "")
					continue
				}
				row, rest = append(row, string(rest[:size])), rest[size:]
			}
			rows = append(rows, row)
		case 'Z':
			return rows, failure
		}
	}
}

type scramState struct {
	password, nonce, firstBare, authMessage string
	salted                                  []byte
}

func newScram(password string) *scramState {
	raw := make([]byte, 18)
	_, _ = rand.Read(raw)
	nonce := base64.RawStdEncoding.EncodeToString(raw)
	return &scramState{password: password, nonce: nonce, firstBare: "n=,r=" + nonce}
}

func (s *scramState) clientFirst() string { return "n,," + s.firstBare }

func mac(key []byte, text string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(text))
	return h.Sum(nil)
}

func (s *scramState) clientFinal(serverFirst string) (string, error) {
	attrs := map[string]string{}
	for _, part := range strings.Split(serverFirst, ",") {
		if key, value, ok := strings.Cut(part, "="); ok {
			attrs[key] = value
		}
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	var iterations int
	if _, scanErr := fmt.Sscanf(attrs["i"], "%d", &iterations); err != nil || scanErr != nil ||
		!strings.HasPrefix(attrs["r"], s.nonce) {
		return "", errors.New("malformed SCRAM server-first message")
	}
	s.salted, err = pbkdf2.Key(sha256.New, s.password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	withoutProof := "c=biws,r=" + attrs["r"]
	s.authMessage = s.firstBare + "," + serverFirst + "," + withoutProof
	clientKey := mac(s.salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	signature := mac(stored[:], s.authMessage)
	for i := range clientKey {
		clientKey[i] ^= signature[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(clientKey), nil
}

func (s *scramState) verify(serverFinal string) bool {
	expected := mac(mac(s.salted, "Server Key"), s.authMessage)
	return hmac.Equal([]byte(serverFinal), []byte("v="+base64.StdEncoding.EncodeToString(expected)))
}

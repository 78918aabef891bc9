package kit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Redis is one connection speaking RESP, logged in as the URL's user (an add-on's ACL user,
// whose keys are those under "<user>:").
type Redis struct {
	conn   net.Conn
	in     *bufio.Reader
	Prefix string
}

// DialRedis connects with a redis:// URL such as an add-on's REDIS_URL and logs in.
func DialRedis(raw string) (*Redis, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" {
		return nil, errors.New("not a redis:// URL")
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := &Redis{conn: conn, in: bufio.NewReader(conn), Prefix: u.User.Username() + ":"}
	password, _ := u.User.Password()
	if _, err := r.Do("AUTH", u.User.Username(), password); err != nil {
		conn.Close()
		return nil, err
	}
	return r, nil
}

// Close ends the connection.
func (r *Redis) Close() { r.conn.Close() }

// Do sends one command and returns its reply as text (an array's items joined by spaces).
func (r *Redis) Do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, arg := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(arg), arg)
	}
	if _, err := r.conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return r.reply()
}

func (r *Redis) reply() (string, error) {
	line, err := r.in.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		size, _ := strconv.Atoi(line[1:])
		if size < 0 {
			return "", nil
		}
		data := make([]byte, size+2)
		if _, err := io.ReadFull(r.in, data); err != nil {
			return "", err
		}
		return string(data[:size]), nil
	case '*':
		count, _ := strconv.Atoi(line[1:])
		items := make([]string, 0, count)
		for i := 0; i < count; i++ {
			item, err := r.reply()
			if err != nil {
				return "", err
			}
			items = append(items, item)
		}
		return strings.Join(items, " "), nil
	}
	return "", fmt.Errorf("unknown reply %q", line)
}

package kit

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
)

// Where is a URL without its password: scheme://user@host:port.
func Where(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s://%s@%s", u.Scheme, u.User.Username(), u.Host)
}

// AddonURLs are the environment's *_URL variables that name a PostgreSQL or Redis server.
func AddonURLs() map[string]string {
	found := map[string]string{}
	for _, item := range os.Environ() {
		name, value, _ := strings.Cut(item, "=")
		if strings.HasSuffix(name, "_URL") && (strings.HasPrefix(value, "postgres") || strings.HasPrefix(value, "redis://")) {
			found[name] = value
		}
	}
	return found
}

// CheckAddon makes one round trip on the add-on with its URL and says what the server answered.
func CheckAddon(raw string) (string, error) {
	if strings.HasPrefix(raw, "redis://") {
		r, err := DialRedis(raw)
		if err != nil {
			return "", err
		}
		defer r.Close()
		count, err := r.Do("INCR", r.Prefix+"checks")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("redis %s: INCR %schecks = %s", Where(raw), r.Prefix, count), nil
	}
	pg, err := DialPostgres(raw)
	if err != nil {
		return "", err
	}
	defer pg.Close()
	rows, err := pg.Query("SELECT current_user, current_database(), current_setting('server_version')")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgresql %s: user %s, database %s, server %s", Where(raw), rows[0][0], rows[0][1], rows[0][2]), nil
}

// SortedKeys of a map, for stable output.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

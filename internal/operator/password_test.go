package operator

import (
	"errors"
	"strings"
	"testing"
)

// proves SEC-2: passwords are stored only as salted PBKDF2-SHA256 hashes
// with the OWASP work factor; the right password matches, a wrong one
// does not, and equal passwords hash differently.
func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery staple", 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != "600000" {
		t.Fatalf("hash %q: want pbkdf2-sha256$600000$salt$hash", h)
	}
	if n, err := HashIterations(h); err != nil || n < 600_000 {
		t.Fatalf("iterations %d %v", n, err)
	}
	if ok, err := CheckPassword(h, "correct horse battery staple"); err != nil || !ok {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := CheckPassword(h, "correct horse battery stapler"); err != nil || ok {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	h2, _ := HashPassword("correct horse battery staple", 1000)
	if h2 == h || strings.Split(h2, "$")[2] == parts[2] {
		t.Fatal("salt reused")
	}
	if ok, _ := CheckPassword(h2, "correct horse battery staple"); !ok {
		t.Fatal("low-iteration hash does not verify")
	}
}

func TestPasswordHashMalformed(t *testing.T) {
	for _, h := range []string{
		"", "plaintext", "pbkdf2-sha256$x$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"pbkdf2-sha256$0$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"pbkdf2-sha256$99999999999$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"pbkdf2-sha256$+1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"pbkdf2-sha256$1$c2FsdHNhbHQ$short",
		"pbkdf2-sha1$1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
	} {
		if _, err := CheckPassword(h, "x"); !errors.Is(err, ErrBadHash) {
			t.Errorf("%q: %v, want ErrBadHash", h, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	if err := ValidatePassword("short"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "15-1024") {
		t.Errorf("short: %v", err)
	}
	if err := ValidatePassword(NewPassword()); err != nil {
		t.Errorf("generated: %v", err)
	}
	if err := ValidatePassword(strings.Repeat("é", 15)); err != nil {
		t.Errorf("15 runes: %v", err)
	}
	if err := ValidatePassword(string([]byte{0xff}) + strings.Repeat("a", 20)); !errors.Is(err, ErrInvalid) {
		t.Errorf("not UTF-8: %v", err)
	}
}

package imgw

import (
	"errors"
	"testing"
)

func TestVendorFor(t *testing.T) {
	cases := []struct{ model, platform, explicit, want string }{
		{"Xiaomi M2102J20SG", "android", "", "xiaomi"},
		{"Redmi Note 12", "android", "", "xiaomi"},
		{"HUAWEI Mate 60", "android", "", "huawei"},
		{"HONOR Magic5 (HUAWEI)", "android", "", "honor"},
		{"OPPO Find X6", "android", "", "oppo"},
		{"OnePlus 11", "android", "", "oppo"},
		{"vivo X90", "android", "", "vivo"},
		{"iQOO 11", "android", "", "vivo"},
		{"Meizu 20", "android", "", "meizu"},
		{"samsung SM-G991B", "android", "", "fcm"},
		{"iPhone15,2", "ios", "", "apns"},
		{"", "ios", "fcm", "apns"},
		{"", "android", "vivo", "vivo"},
		{"", "android", "", "fcm"},
		{"Xiaomi 13", "android", "fcm", "xiaomi"}, // the model decides
	}
	for _, c := range cases {
		got, err := VendorFor(c.model, c.platform, c.explicit)
		if err != nil || got != c.want {
			t.Errorf("VendorFor(%q, %q, %q) = %q, %v; want %q", c.model, c.platform, c.explicit, got, err, c.want)
		}
	}
	if _, err := VendorFor("", "android", "nokia"); !errors.Is(err, ErrUnknownVendor) {
		t.Fatalf("unknown vendor: %v", err)
	}
}

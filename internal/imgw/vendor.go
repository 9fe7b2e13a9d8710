package imgw

import (
	"errors"
	"fmt"
	"strings"
)

// Vendors are the offline-push channels of REFERENCE.md §2.
var Vendors = []string{"apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo", "meizu"}

// ErrUnknownVendor reports a vendor name outside Vendors.
var ErrUnknownVendor = errors.New("imgw: unknown push vendor")

// brandVendors maps the brand words a device model starts with or
// contains to a vendor channel. Seed 004: the Android and iOS SDKs read the
// phone type to decide which vendor's push channel to use. Order matters:
// Honor phones were Huawei's sub-brand and some models still carry both
// words, so "honor" is tested first.
var brandVendors = []struct{ brand, vendor string }{
	{"iphone", "apns"}, {"ipad", "apns"}, {"ipod", "apns"}, {"apple", "apns"},
	{"honor", "honor"},
	{"huawei", "huawei"},
	{"xiaomi", "xiaomi"}, {"redmi", "xiaomi"}, {"poco", "xiaomi"},
	{"oppo", "oppo"}, {"oneplus", "oppo"}, {"realme", "oppo"},
	{"vivo", "vivo"}, {"iqoo", "vivo"},
	{"meizu", "meizu"},
}

// VendorFor chooses the push channel for a device. The SDK sends the
// device model as "<manufacturer> <model>" (Android Build.MANUFACTURER and
// Build.MODEL; "iPhone15,2" on iOS) only when the app turned on
// field.im.device_model; otherwise explicit names the vendor (or is
// empty). iOS devices always use APNs; any other phone without a vendor
// channel of its own uses FCM.
func VendorFor(model, platform, explicit string) (string, error) {
	if platform == "ios" {
		return "apns", nil
	}
	m := strings.ToLower(model)
	for _, b := range brandVendors {
		if m != "" && strings.Contains(m, b.brand) {
			return b.vendor, nil
		}
	}
	if explicit != "" {
		for _, v := range Vendors {
			if v == explicit {
				return v, nil
			}
		}
		return "", fmt.Errorf("%w: %q", ErrUnknownVendor, explicit)
	}
	return "fcm", nil
}

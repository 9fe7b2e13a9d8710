package disclosure

import (
	"strings"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// words are the fixed phrases of a disclosure in one language. The
// wording follows the seed disclosures (000 "第三方 SDK 名称 / 提供方 / 使用目的及
// 功能场景 / 处理的个人信息类型 / 权限 / 隐私政策链接", 003 "数据处理方式") and
// PROMISES.
type words struct {
	lang string

	title, sdkName, unreleased, none, notProvided                                   string
	kSDK, kPackage, kVersion, kProvider, kContact, kApp, kPurpose, kScenarios       string
	kPI, kRequired, kOptional, kID, kItemPurpose, kItemScenario, kItemProcessing    string
	kItemStorage, kItemLegal, kSwitch, kPermissions, kPermName, kPermPurpose        string
	kPermTrigger, kPermOptional, permOptional, permRequired                         string
	kProcessing, kStorage, kPlace, kPeriod, kSharing, kPolicy, kPolicyURL           string
	kPolicyVersion, kInventory, kGenerated                                          string
	providerDefault, contactDefault, forwardedOnly, recordingPrefix                 string
	transit, consentFirst, trigger, mediaForward, mediaRecorded, relay, noSensitive string
	withdraw, sharing, harmonyPerms, goPerms, listSep, sentenceSep                  string
	kField, kValue, kInfo, kRequiredShort, kOptionalShort, kPIDetail, kPermDetail   string
}

func wordsFor(lang string) words {
	if lang == "zh" {
		return words{
			lang:            "zh",
			title:           "第三方 SDK 个人信息处理说明",
			sdkName:         "Parley RTC SDK",
			unreleased:      "未发布",
			none:            "无",
			notProvided:     "未提供",
			kSDK:            "第三方 SDK 名称",
			kPackage:        "包名",
			kVersion:        "SDK 版本",
			kProvider:       "第三方 SDK 提供方",
			kContact:        "联系方式",
			kApp:            "接入应用",
			kPurpose:        "使用目的",
			kScenarios:      "使用场景",
			kPI:             "处理的个人信息类型",
			kRequired:       "必选信息",
			kOptional:       "可选信息（App 开启对应开关后才处理）",
			kID:             "字段",
			kItemPurpose:    "处理目的",
			kItemScenario:   "使用场景",
			kItemProcessing: "处理方式",
			kItemStorage:    "存储",
			kItemLegal:      "法律依据",
			kSwitch:         "开关",
			kPermissions:    "实现 SDK 产品功能所需的权限",
			kPermName:       "权限名称",
			kPermPurpose:    "使用目的",
			kPermTrigger:    "申请时机",
			kPermOptional:   "是否可选",
			permOptional:    "可选",
			permRequired:    "必选",
			kProcessing:     "数据处理方式",
			kStorage:        "存储地点及期限",
			kPlace:          "存储地点",
			kPeriod:         "存储期限",
			kSharing:        "共享、转让与公开披露",
			kPolicy:         "隐私政策",
			kPolicyURL:      "隐私政策链接",
			kPolicyVersion:  "隐私政策版本",
			kInventory:      "个人信息清单",
			kGenerated:      "本说明由 Parley 根据个人信息清单及 App 的实际配置生成",
			providerDefault: "Parley（开源、私有化部署）：个人信息由 App 开发者自行运营的 Parley 服务端处理",
			contactDefault:  "通过 App 开发者联系（见 App 隐私政策）",
			forwardedOnly:   "不存储（仅实时加密转发给 App 指定方）",
			recordingPrefix: "App 已开启云端录制：",
			transit:         "全部数据经 TLS、DTLS-SRTP 加密传输",
			consentFirst:    "终端用户同意隐私政策之前，SDK 不初始化、不申请权限，不收集也不上传任何个人信息；初始化本身不收集个人信息",
			trigger:         "仅在用户触发相应功能时收集，不涉及定时或后台收集，不提供按不同频次、精度收集的选项",
			mediaForward:    "音视频内容仅在互动期间采集，SDK 本地加密后传输到服务端，并向 App 指定方转发，不存储",
			mediaRecorded:   "App 已开启云端录制：音视频内容在转发的同时被录制，存储于云端录制存储，保存期限按 App 配置",
			relay:           "App 已开启旁路推流：音视频同时推送至 App 配置的旁路直播地址",
			noSensitive:     "不收集敏感个人信息；收集的信息不能单独识别特定自然人的身份",
			withdraw:        "终端用户撤回同意时，App 调用停止接口，SDK 立即停止相应功能及全部收集；App 可调用设备删除接口删除该设备上报到服务端的个人信息",
			sharing:         "不与关联公司、合作伙伴及其他第三方共享终端用户的个人信息；对外提供的统计仅为聚合、去标识化的数据。转让或公开披露仅在告知并取得单独同意或法律法规强制要求时进行",
			harmonyPerms:    "无（Harmony SDK 不主动获取权限，不采集视频、音频：由 App 申请相关权限采集数据后输入 SDK）",
			goPerms:         "无（Go SDK 不申请操作系统权限：音视频由设备程序采集后输入 SDK）",
			listSep:         "、",
			sentenceSep:     "；",
			kField:          "项目",
			kValue:          "内容",
			kInfo:           "个人信息",
			kRequiredShort:  "必选",
			kOptionalShort:  "可选",
			kPIDetail:       "个人信息处理明细",
			kPermDetail:     "权限的使用目的及申请时机",
		}
	}
	return words{
		lang:            "en",
		title:           "Third-party SDK personal information disclosure",
		sdkName:         "Parley RTC SDK",
		unreleased:      "unreleased",
		none:            "None",
		notProvided:     "not provided",
		kSDK:            "Third-party SDK",
		kPackage:        "Package",
		kVersion:        "SDK version",
		kProvider:       "Provider",
		kContact:        "Contact",
		kApp:            "App",
		kPurpose:        "Purpose",
		kScenarios:      "Scenarios",
		kPI:             "Personal information processed",
		kRequired:       "Required",
		kOptional:       "Optional (processed only when the app turns the switch on)",
		kID:             "Field",
		kItemPurpose:    "Purpose",
		kItemScenario:   "When",
		kItemProcessing: "Processing",
		kItemStorage:    "Storage",
		kItemLegal:      "Legal basis",
		kSwitch:         "Switch",
		kPermissions:    "System permissions the SDK needs",
		kPermName:       "Permission",
		kPermPurpose:    "Purpose",
		kPermTrigger:    "When requested",
		kPermOptional:   "Optional",
		permOptional:    "optional",
		permRequired:    "required",
		kProcessing:     "Processing method",
		kStorage:        "Storage place and period",
		kPlace:          "Place",
		kPeriod:         "Period",
		kSharing:        "Sharing, transfer and public disclosure",
		kPolicy:         "Privacy policy",
		kPolicyURL:      "Privacy policy link",
		kPolicyVersion:  "Privacy policy version",
		kInventory:      "Inventory",
		kGenerated:      "Generated by Parley from its personal-information inventory and the app's actual configuration",
		providerDefault: "Parley (open source, self-hosted): personal information is processed by the Parley server the app developer operates",
		contactDefault:  "through the app developer (see the app's privacy policy)",
		forwardedOnly:   "not stored (encrypted and forwarded in real time to the parties the app designates)",
		recordingPrefix: "cloud recording is on: ",
		transit:         "Everything is encrypted in transit (TLS, DTLS-SRTP)",
		consentFirst:    "Before the user agrees to the privacy policy the SDK does not initialise, request permissions, collect or send any personal information; initialising collects nothing",
		trigger:         "Collected only when the user triggers the function: no timers, no background collection, no frequency or precision options",
		mediaForward:    "Audio and video are captured only during an interaction, encrypted on the device, sent to the server and forwarded to the parties the app designates; they are not stored",
		mediaRecorded:   "The app turned cloud recording on: audio and video are also recorded and kept in the cloud recording store for the retention the app configures",
		relay:           "The app turned relay (bypass streaming) on: audio and video are also pushed to the live-stream address the app configures",
		noSensitive:     "No sensitive personal information is collected; what is collected cannot identify a person on its own",
		withdraw:        "When the user withdraws consent the app calls Stop and the SDK stops the function and all collection at once; the device-delete interface erases what the device reported to the server",
		sharing:         "End users' personal information is not shared with affiliates, partners or other third parties; statistics are shared only aggregated and de-identified. Transfer or public disclosure happens only with notice and separate consent, or when the law compels it",
		harmonyPerms:    "None (the Harmony SDK requests no permission and captures no audio or video itself: the app requests the permissions, captures the data and passes it to the SDK)",
		goPerms:         "None (the Go SDK requests no operating-system permission: the device program captures audio and video and passes them to the SDK)",
		listSep:         ", ",
		sentenceSep:     "; ",
		kField:          "Item",
		kValue:          "Details",
		kInfo:           "Personal information",
		kRequiredShort:  "required",
		kOptionalShort:  "optional",
		kPIDetail:       "Personal information in detail",
		kPermDetail:     "Permissions: purpose and timing",
	}
}

func (w words) platformName(p string) string {
	zh := w.lang == "zh"
	switch p {
	case "android":
		return "Android"
	case "ios":
		return "iOS"
	case "harmony":
		if zh {
			return "HarmonyOS 鸿蒙"
		}
		return "HarmonyOS"
	case "web":
		return "Web"
	case "pc":
		if zh {
			return "PC 端 Windows、macOS"
		}
		return "PC: Windows and macOS"
	default:
		if zh {
			return "Go 现场设备"
		}
		return "Go, field devices"
	}
}

// purposeName names a consent purpose (protocol.Purpose*); seed 000:
// "进行低时延音视频互动以及消息通信".
func (w words) purposeName(p string) string {
	zh := w.lang == "zh"
	switch p {
	case "rtc":
		if zh {
			return "进行低时延音视频互动"
		}
		return "low-latency audio/video interaction"
	case "quality":
		if zh {
			return "通话质量监控与故障排查"
		}
		return "call-quality monitoring and troubleshooting"
	case "signaling":
		if zh {
			return "实时信令与互动白板"
		}
		return "real-time signaling and the interactive whiteboard"
	case "im":
		if zh {
			return "即时通信消息收发"
		}
		return "instant messaging"
	case "feedback":
		if zh {
			return "用户反馈与问题排查"
		}
		return "user feedback and troubleshooting"
	default:
		if zh {
			return "开发者账号与应用管理"
		}
		return "developer account and app management"
	}
}

// legalBasis names the PIPL art. 13 basis.
func (w words) legalBasis(b string) string {
	zh := w.lang == "zh"
	switch b {
	case "consent":
		if zh {
			return "取得个人同意（《个人信息保护法》第十三条第一款第（一）项）"
		}
		return "consent (PIPL art. 13(1)(1))"
	case "contract":
		if zh {
			return "为订立、履行合同所必需（《个人信息保护法》第十三条第一款第（二）项）"
		}
		return "necessary to conclude or perform a contract (PIPL art. 13(1)(2))"
	default:
		if zh {
			return "为履行法定职责或者法定义务所必需（《个人信息保护法》第十三条第一款第（三）项）"
		}
		return "necessary to fulfil a legal duty or obligation (PIPL art. 13(1)(3))"
	}
}

// onDevice describes the SDK's processing before data leaves the device
// (seed 000 处理方式: "SDK 本地进行脱敏后，加密传输到云端服务").
func (w words) onDevice(v string) string {
	zh := w.lang == "zh"
	switch v {
	case "ip_truncate":
		if zh {
			return "SDK 本地将 IP 地址截断为网段（IPv4 /24、IPv6 /48）进行脱敏后，加密传输到服务端；服务端只保存截断后的网段"
		}
		return "the SDK truncates the address to its network prefix (IPv4 /24, IPv6 /48) on the device, then encrypts and sends it; the server keeps only the prefix"
	case "random_id":
		if zh {
			return "SDK 本地随机生成，不使用 IMEI、MAC 地址、Android ID、OAID、硬件序列号等设备标识"
		}
		return "generated at random on the device; never the IMEI, MAC address, Android ID, OAID or hardware serial number"
	case "local_only":
		if zh {
			return "调用系统 API 获取，仅在设备本地进行逻辑判断，不上传"
		}
		return "read through the system API and used on the device only; never sent"
	}
	return ""
}

// atRest describes the server-side protection of stored values.
func (w words) atRest(v string) string {
	zh := w.lang == "zh"
	switch v {
	case "pseudonymise":
		if zh {
			return "服务端按应用假名化后保存"
		}
		return "pseudonymised per app before it is stored"
	case "seal":
		if zh {
			return "以密钥加密密钥（AES-256-GCM）加密保存"
		}
		return "stored sealed under the key-encryption key (AES-256-GCM)"
	}
	return ""
}

func (w words) store(s string) string {
	zh := w.lang == "zh"
	pick := func(z, e string) string {
		if zh {
			return z
		}
		return e
	}
	switch s {
	case "quality_logs":
		return pick("质量数据存储", "quality data store")
	case "consent_ledger":
		return pick("同意记录", "consent ledger")
	case "troubleshooting":
		return pick("故障排查数据存储", "troubleshooting data store")
	case "messages":
		return pick("消息存储", "message store")
	case "im_sessions":
		return pick("即时通信登录会话", "messaging login sessions")
	case "whiteboards":
		return pick("白板存储", "whiteboard store")
	case "recordings":
		return pick("云端录制存储", "cloud recording store")
	case "app_console":
		return pick("控制台数据", "console data")
	case "keystore":
		return pick("密钥库", "key store")
	}
	return pick("不存储", "not stored")
}

// retention describes a retention rule (seed 002 retention table;
// PROMISES RETAIN-1..3).
func (w words) retention(r inventory.Retention) string {
	zh := w.lang == "zh"
	days := func(ttl string) string {
		n := strings.TrimSuffix(ttl, "d")
		if zh {
			return n + " 天"
		}
		if n == "1" {
			return "1 day"
		}
		return n + " days"
	}
	switch r.TTL {
	case inventory.TTLNone:
		if zh {
			return "不存储"
		}
		return "not stored"
	case inventory.TTLWhileAppExists:
		if zh {
			return "应用存续期间保留，应用或账号注销后 7 天内删除"
		}
		return "kept while the app exists; deleted within 7 days after the app or account is terminated"
	case inventory.TTLAppConfigured:
		switch {
		case zh && r.Default != "":
			return "按 App 配置的保存期限（默认 " + days(r.Default) + "）"
		case zh:
			return "按 App 配置的保存期限"
		case r.Default != "":
			return "the retention the app configures (default " + days(r.Default) + ")"
		default:
			return "the retention the app configures"
		}
	case inventory.TTLWhileLoggedIn:
		if zh {
			return "登录期间保留，退出登录后删除"
		}
		return "kept while the user is logged in; deleted at logout"
	case inventory.TTLWhileBoardExists:
		if zh {
			return "白板存续期间保留，白板删除时一并删除"
		}
		return "kept while the whiteboard exists; deleted with it"
	}
	if zh {
		return "保存 " + days(r.TTL) + "，到期删除"
	}
	return "kept " + days(r.TTL) + ", then deleted"
}

// region describes a storage-region rule (STORE-1; seeds 000, 001, 004:
// stored in the People's Republic of China).
func (w words) region(r string) string {
	zh := w.lang == "zh"
	if r == "device" {
		if zh {
			return "仅在设备本地"
		}
		return "on the device only"
	}
	if zh {
		return "存储于收集地所在区域（默认中华人民共和国境内）；未经告知并取得单独同意，不跨境传输"
	}
	return "stored in the region where it is collected (the People's Republic of China by default); no cross-border transfer without notice and separate consent"
}

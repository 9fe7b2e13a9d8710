package warm

import (
	_ "github.com/coder/websocket"
	_ "github.com/pion/interceptor/pkg/nack"
	_ "github.com/pion/interceptor/pkg/twcc"
	_ "github.com/pion/webrtc/v4"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.yaml.in/yaml/v3"
	_ "modernc.org/sqlite"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/time/rate"
	_ "golang.org/x/sync/errgroup"
	_ "go.uber.org/goleak"
	_ "github.com/google/uuid"
)

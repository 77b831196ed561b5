"""TAK / Cursor-on-Target: CoT events in and out (`cot`, `framing`: pure), and the TCP listener (`listener`,
`bridge`: the Django side) that feeds patrol tracking and pushes accepted alerts to TAK clients."""

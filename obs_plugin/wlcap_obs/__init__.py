"""The OBS side of wlcap in Python: the controller behind each "wlcap_capture" source (settings,
lifecycle, the capture stream feeding the C shim) and the DMA-BUF fallback ladder."""

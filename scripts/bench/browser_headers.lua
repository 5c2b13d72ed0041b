-- Eight headers a browser sends besides Host: nine request headers in all.
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9,de;q=0.8"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
wrk.headers["Cookie"] = "session=4f1c2a9e8b7d6c5e; theme=dark; _ga=GA1.1.123456789.1700000000"
wrk.headers["Referer"] = "http://127.0.0.1/index.html"
wrk.headers["Sec-Fetch-Mode"] = "navigate"
wrk.headers["Cache-Control"] = "max-age=0"

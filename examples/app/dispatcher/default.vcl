vcl 4.1;
# Stagecoach dispatcher VCL template. The entrypoint substitutes @PUBLISH_HOST@, @PUBLISH_PORT@ and @PURGE_TOKEN@.

backend publish {
    .host = "@PUBLISH_HOST@";
    .port = "@PUBLISH_PORT@";
    .connect_timeout = 2s;
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 10s;
}

sub vcl_recv {
    if (req.method == "BAN" || req.method == "PURGE") {
        if (req.http.X-Purge-Token != "@PURGE_TOKEN@") {
            return (synth(403, "Forbidden"));
        }
        if (req.method == "BAN") {
            ban("req.url ~ .");
            return (synth(200, "Banned"));
        }
        return (purge);
    }
    unset req.http.X-Purge-Token;

    # Health goes through to the publish every time (checks dispatcher + publish).
    if (req.url ~ "^/health(\?.*)?$") {
        return (pass);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # The sample app has no sessions: ignore cookies for caching decisions.
    unset req.http.Cookie;
    return (hash);
}

sub vcl_hash {
    # One site per dispatcher: the cache key is the URL only, so a cache warmed through the dispatcher's own
    # address serves requests arriving through the load balancer (different Host header).
    hash_data(req.url);
    # The version the load balancer routed the request for (version-sticky sessions): a page cached for one version
    # is never an answer for another. Absent (no sticky cookie, or a direct request such as the warm-up): URL only.
    if (req.http.X-Stagecoach-Version) {
        hash_data(req.http.X-Stagecoach-Version);
    }
    return (lookup);
}

sub vcl_backend_response {
    # Never keep server errors.
    if (beresp.status >= 500) {
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }
    # Otherwise fall through to the builtin logic, which honours Cache-Control (max-age / s-maxage for the TTL;
    # no-store, no-cache, private, Set-Cookie, Vary: * make the response uncacheable).
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    unset resp.http.Via;
    unset resp.http.X-Varnish;
    # Security headers on every page (what the securityTest step checks by default).
    set resp.http.X-Content-Type-Options = "nosniff";
    set resp.http.X-Frame-Options = "SAMEORIGIN";
    set resp.http.Referrer-Policy = "strict-origin-when-cross-origin";
}

sub vcl_purge {
    return (synth(200, "Purged"));
}

sub vcl_synth {
    set resp.http.Content-Type = "text/plain; charset=utf-8";
    set resp.http.Cache-Control = "no-store";
    synthetic(resp.reason + {"
"});
    return (deliver);
}

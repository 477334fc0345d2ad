vcl 4.1;
# The second app's dispatcher. start.sh fills in @PUBLISH_HOST@, @PUBLISH_PORT@ and @PURGE_TOKEN@.

backend publish {
    .host = "@PUBLISH_HOST@";
    .port = "@PUBLISH_PORT@";
}

sub vcl_recv {
    # Stagecoach flushes the cache with BAN on every deployment, sending the token it gave this dispatcher.
    if (req.method == "BAN") {
        if (req.http.X-Purge-Token != "@PURGE_TOKEN@") {
            return (synth(403, "Forbidden"));
        }
        ban("req.url ~ .");
        return (synth(200, "Banned"));
    }
    # The load balancer checks every dispatcher at GET /health; the app's health path is /healthz: both pass
    # through to the publish, so a dispatcher is healthy only while its publish is.
    if (req.url ~ "^/health(\?.*)?$") {
        set req.url = "/healthz";
    }
    if (req.url ~ "^/healthz(\?.*)?$") {
        return (pass);
    }
    unset req.http.Cookie;
    return (hash);
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}

DROP TABLE session_cache_key;

use super::*;

#[tokio::test]
async fn the_sweep_deletes_expired_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = Upload {
        directory: dir.path().to_path_buf(),
        max_file_bytes: 100,
        allowed_types: vec!["*/*".into()],
        expire: Duration::from_secs(86_400),
        slot: Duration::from_secs(60),
    };
    let now = 1_800_000_000_000;
    let (old, new) = (slot::new_id(), slot::new_id());
    for (id, at) in [(&old, now - 86_400_000), (&new, now - 86_399_000)] {
        let d = dir.path().join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("data"), b"x").unwrap();
        let meta = Meta {
            name: "a.txt".into(),
            content_type: "text/plain".into(),
            size: 1,
            uploaded_ms: at,
        };
        std::fs::write(d.join("meta"), serde_json::to_vec(&meta).unwrap()).unwrap();
    }
    std::fs::create_dir_all(dir.path().join(INCOMING).join("fresh")).unwrap();
    assert_eq!(sweep(&config, now).await, 1);
    assert!(!dir.path().join(&old).exists());
    assert!(dir.path().join(&new).join("data").exists());
    assert!(dir.path().join(INCOMING).join("fresh").exists());
}

#[test]
fn images_show_inline_and_the_rest_downloads() {
    let meta = |t: &str, name: &str| Meta {
        name: name.into(),
        content_type: t.into(),
        size: 1,
        uploaded_ms: 0,
    };
    assert_eq!(
        disposition(&meta("image/png", "très \"cool\".png")),
        "inline; filename=\"tr_s _cool_.png\"; filename*=UTF-8''tr%C3%A8s%20%22cool%22.png"
    );
    assert!(disposition(&meta("image/svg+xml", "a.svg")).starts_with("attachment;"));
    assert!(disposition(&meta("application/pdf", "a.pdf")).starts_with("attachment;"));
}

//! The cache of rendered images is bounded by the bytes it holds, not by how many images: a
//! client asking for every award's certificate cannot make it hold hundreds of megabytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wexqs::http::images::ImageCache;
use wexqs::limits::MAX_IMAGE_CACHE_BYTES;

const IMAGE: usize = 1024 * 1024;

#[actix_web::test]
async fn the_image_cache_holds_at_most_its_bound_in_bytes_and_still_serves_what_it_keeps() {
    let cache = ImageCache::default();
    let renders = Arc::new(AtomicUsize::new(0));
    let render = |fill: u8| {
        let renders = renders.clone();
        move || {
            renders.fetch_add(1, Ordering::SeqCst);
            Ok(vec![fill; IMAGE])
        }
    };
    // Under a count of 4,096 images, as many 1 MiB images as ten times the bound in bytes.
    let asked = 10 * MAX_IMAGE_CACHE_BYTES / IMAGE;
    assert!(
        asked < 4096,
        "the test asks for fewer images than the old count bound"
    );
    for i in 0..asked {
        let image = cache
            .get_or_render(format!("certificate-{i}"), render(i as u8))
            .await
            .expect("rendered");
        assert_eq!(image.len(), IMAGE);
        assert!(
            cache.held_bytes() <= MAX_IMAGE_CACHE_BYTES,
            "after {} images the cache holds {} bytes, over its bound of {MAX_IMAGE_CACHE_BYTES}",
            i + 1,
            cache.held_bytes()
        );
    }
    assert_eq!(renders.load(Ordering::SeqCst), asked);
    assert!(
        cache.held_bytes() > MAX_IMAGE_CACHE_BYTES / 2,
        "the cache keeps images up to its bound: {} bytes",
        cache.held_bytes()
    );

    // The image just kept is served again without rendering, with its bytes.
    let last = asked - 1;
    let again = cache
        .get_or_render(format!("certificate-{last}"), render(0))
        .await
        .expect("served");
    assert_eq!(
        renders.load(Ordering::SeqCst),
        asked,
        "served from the cache"
    );
    assert_eq!(again[0], last as u8);

    // An image too large to keep is served and not kept.
    let held = cache.held_bytes();
    let huge = cache
        .get_or_render("huge".into(), move || Ok(vec![7; MAX_IMAGE_CACHE_BYTES]))
        .await
        .expect("rendered");
    assert_eq!(huge.len(), MAX_IMAGE_CACHE_BYTES);
    assert_eq!(cache.held_bytes(), held, "the huge image is not kept");
}

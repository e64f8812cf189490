//! patchkit-signing: placeholder.

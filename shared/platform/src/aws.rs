//! The AWS SDK configuration: the normal provider chain everywhere. Locally
//! and in tests the only difference is `AWS_ENDPOINT_URL` (moto), which the
//! chain itself reads.

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

//! `connector`: the operator CLI (see the library for the commands).

#[tokio::main]
async fn main() {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = operator::main_with(std::env::args_os(), &mut out, &mut err).await;
    std::process::exit(code);
}

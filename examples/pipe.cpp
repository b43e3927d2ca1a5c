// Pipes between a parent and its child. A pipe carries bytes one way, so pipe_pair() makes two,
// one each way: both ends can send and receive (full duplex). After fork() each process closes
// the end it does not use; then each sees `closed` once the other is done. The transport frames
// the bytes, so one send() is one receive().
#include <cctype>

#include "example.hpp"

int main() {
  auto pipes = example::must(conduit::pipe_pair(), "pipe_pair");
  conduit::Connection& parent_end = pipes.first;
  conduit::Connection& child_end = pipes.second;

  const pid_t child = example::spawn([&] {
    parent_end.close();
    for (;;) {
      auto question = child_end.receive();
      if (!question) {
        example::say("child", "receive: " + question.error().message());
        return question.error().code() == conduit::Errc::closed ? 0 : 1;
      }
      std::string answer(question->text());
      for (char& c : answer) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      example::say("child",
                   "got '" + std::string(question->text()) + "', sends back '" + answer + "'");
      example::must(child_end.send(answer), "send");
    }
  });
  child_end.close();

  for (const char* word : {"ping", "hello, child"}) {
    example::must(parent_end.send(word), "send");
    auto answer = example::must(parent_end.receive(), "receive");
    example::say("parent",
                 "sent '" + std::string(word) + "', got back '" + std::string(answer.text()) + "'");
  }
  example::say("parent", "closes its end");
  parent_end.close();
  return example::join(child) ? 0 : 1;
}

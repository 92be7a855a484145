#include "acme/jws.hpp"

#include "acme/base64url.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace vhostd::acme {

std::string sign_request(const EcKey& key, const JwsHeader& header, std::string_view payload) {
    boost::json::object protected_header{{"alg", "ES256"}, {"nonce", header.nonce}, {"url", header.url}};
    if (header.kid.empty()) {
        protected_header["jwk"] = boost::json::parse(key.jwk());
    } else {
        protected_header["kid"] = header.kid;
    }
    const std::string encoded_header = base64url(boost::json::serialize(protected_header));
    const std::string encoded_payload = base64url(payload);
    const std::string signature = key.sign(encoded_header + "." + encoded_payload);
    return boost::json::serialize(boost::json::object{
        {"protected", encoded_header}, {"payload", encoded_payload}, {"signature", base64url(signature)}});
}

std::string key_authorization(std::string_view token, const EcKey& account_key) {
    return std::string(token) + "." + account_key.thumbprint();
}

}  // namespace vhostd::acme
